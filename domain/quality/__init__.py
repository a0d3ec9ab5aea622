"""Code quality of the engineering repositories (issue 20): each repository's default branch cloned and analysed
with the existing analysers (`domain.analysis`), its findings classified and priced in remediation minutes
(`debt`), stored as a snapshot (`snapshots`), and summed over a scope for the analytics (`figures`)."""

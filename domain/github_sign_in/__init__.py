"""Sign in with GitHub: the OAuth client (Authlib, PKCE), the flows waiting for GitHub's answer, and the
accounts a GitHub identity signs in to or is linked with (docs/github-sign-in.md)."""

"""What a build runs on: the checkout, the step processes and their limits, the step user and workspace."""

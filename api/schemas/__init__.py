"""marshmallow schemas: validation lives here, so views hold no ad-hoc checks."""

"""The built-in web pages."""

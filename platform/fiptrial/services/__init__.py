"""The platform's rules. API views, web pages, the CLI and scheduler jobs all call these."""

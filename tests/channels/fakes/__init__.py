"""Fake third-party servers for channel tests: real aiohttp servers on port 0."""

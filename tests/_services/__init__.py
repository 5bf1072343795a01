"""Real parts the tests start themselves: the server, PostgreSQL, (later) DNS."""

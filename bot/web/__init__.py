"""Web plumbing shared by the routes: the client's address, access-log hygiene, pages."""

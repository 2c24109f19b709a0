"""Everything HTTP: dependencies, middleware, the error mapping, templates, router assembly."""

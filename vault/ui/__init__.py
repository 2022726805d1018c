"""Server-rendered owner pages (Jinja), Dutch first, English too."""

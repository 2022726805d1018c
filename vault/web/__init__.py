"""The web layer's shared pieces: request auth, problem+json mapping, security headers,
file transfer helpers and the organisation read beneath Flask."""

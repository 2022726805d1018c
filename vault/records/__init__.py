"""Record type catalogue: marshmallow schemas, validation, versions, provenance. Imports no Flask."""

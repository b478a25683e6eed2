"""Storage policies as the service sees them, an object's fragment locations, and the data administration
behind `coffer admin` (volumes, repairs, drains).

Modules:
  admin     Data administration: the operations behind `coffer admin` (volumes, fragments, repairs).
  locate    Where an object's bytes are: the data engine's fragment list for one object (OpenIO's locate).
  policies  Storage policies as the S3 surface sees them: which policy a new object's data is written under.
"""

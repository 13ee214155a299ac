"""onecsync: a store-and-forward node of 1C's EnterpriseData exchange between 1C:CRM and 1C:БП 3.0."""

__version__ = "0.1.0"

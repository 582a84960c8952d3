"""Development only: the SAM template's functions served over real HTTP on an embedded DynamoDB (moto)."""

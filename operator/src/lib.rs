//! The Tollgate Kubernetes operator: CRDs and controllers for environment parity, schema
//! migrations and PostgreSQL backups.

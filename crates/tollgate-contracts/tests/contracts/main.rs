//! Integration tests of tollgate-contracts: one binary, one module per spec kind.

mod corpus;
mod fixtures;
mod graphql;
mod jsonschema;
mod openapi;

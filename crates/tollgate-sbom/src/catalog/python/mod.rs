//! Python lockfiles: uv.lock, poetry.lock, Pipfile.lock, requirements.txt.

mod common;
pub mod pipenv;
pub mod poetry;
mod pyproject;
pub mod requirements;
pub mod uv;

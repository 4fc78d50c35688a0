//! Python lockfiles: uv.lock, poetry.lock, requirements.txt.

mod common;
pub mod poetry;
mod pyproject;
pub mod requirements;
pub mod uv;

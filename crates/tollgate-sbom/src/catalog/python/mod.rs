//! Python lockfiles: uv.lock, poetry.lock, requirements.txt.

pub mod poetry;
pub mod requirements;
pub mod uv;

//! tmp
pub fn f() -> regorus::Engine { regorus::Engine::new() }

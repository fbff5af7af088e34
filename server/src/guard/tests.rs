//! Hostile-input tests for the guard: one per attack, plus positive round trips.

use super::*;

//! Access: the pure core of who may do what. Roles and their table, invites, identities
//! and grants, tokens and their hashes, what a request presents, and failed-attempt
//! limiting. No storage and no requests here: `crate::auth` looks credentials up in the
//! store and the HTTP layer asks it. See docs/access.md for the promise and the attacks.

pub mod audit;
pub mod identity;
pub mod invite;
pub mod limiter;
pub mod presented;
pub mod role;
pub mod token;

//! Go adapter: module zips for the project's Go registry (being written).

//! Python adapter: wheel + sdist to devpi (being written).

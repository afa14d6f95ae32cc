//! TypeScript adapter: npm tarballs to Verdaccio (being written).

/** The scopes live in the wire project (the dashboard and CLI read the same list); re-exported for the daemon's modules. */
export * from '../../wire/scopes.js';

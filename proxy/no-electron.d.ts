// proxy/tsconfig.json maps `electron` here: proxy/ runs under plain Node (the
// daemon, the CLI), so anything imported from Electron must not compile.
export {};

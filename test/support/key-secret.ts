// The KEY_ENCRYPTION_SECRET every test instance uses, in-process or as a server process. A file of
// its own so that process.ts (imported by the bench) does not load the application with it.
export const TEST_KEY_ENCRYPTION_SECRET = 'test-key-encryption-secret-0123456789abcdef';

// Shared by the baseline server and the harness (importing the server module would start it).
export const BASELINE_CLIENT_ID = 'bench-web';
export const BASELINE_API = 'https://api.bench.example';
export const BASELINE_EMAIL = 'bench@example.com';
export const BASELINE_REDIRECT_URI = 'http://127.0.0.1:8765/callback';

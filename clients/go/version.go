package smsws

// Version is the SDK version, one number for the TypeScript, Python and Go SDKs (CHANGELOG.md);
// the conformance vectors record it as sdkVersion and TestVersionMatchesVectors compares.
const Version = "0.1.0"

export { createTlsCertificate, defaultTlsDir, loadOrCreateTlsCertificate, TlsCertificateError } from './certificate.js';
export type { TlsCertificate } from './certificate.js';

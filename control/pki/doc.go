// Package pki is control's certificate authority. On first start it creates
// an ECDSA P-256 CA and a TLS server certificate in control's data dir;
// later starts load them and renew the server certificate when it lacks a
// requested name or is about to expire. The CA also signs the client
// certificates agents obtain at enrollment (CommonName = agent id).
//
// Files in the data dir (PEM, keys PKCS#8, mode 0600, each written
// atomically: temporary file, fsync, rename, fsync of the directory):
//
//	ca.crt      the CA certificate (10 years)
//	ca.key      the CA private key
//	server.crt  the server certificate (2 years) followed by the CA certificate
//	server.key  the server private key
package pki

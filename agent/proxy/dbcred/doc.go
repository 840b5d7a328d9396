// Package dbcred holds what the database proxies (mysql, postgres) share
// in their agent.yaml settings where the logic is the same: the client
// TLS configuration towards the database server (modes require and
// verify-full, ca_file, server_name, cert_file/key_file) and the sorted
// names of the configured database users. Each protocol keeps its own
// setting names (libpq's sslmode, MySQL's tls), validation messages and
// redaction.
package dbcred

package postgres

// chooseLogin picks the database user and database of a client connection:
//
//   - user: SessionOpen.Login when control set it; else the client's user
//     when the agent has credentials for it; else the resource's default
//     user (as the MySQL proxy does). A client user without credentials is
//     kept only when there is no default, so that the error names it.
//   - database: SessionOpen.Database when set; else the client's, except
//     when the client's user was replaced by the default and the client's
//     database is just its user name (libpq's default, e.g. "root" for a
//     psql run by root), which then means "the resource's default".
func (c *TargetConfig) chooseLogin(openLogin, openDB, clientUser, clientDB string) (user, db string) {
	user, db = openLogin, openDB
	replaced := false
	if user == "" {
		user = clientUser
		if _, err := c.credentials(clientUser); (err != nil || clientUser == "") && c.User != "" {
			user, replaced = c.User, clientUser != ""
		}
	}
	if db == "" {
		db = clientDB
		if replaced && clientDB == clientUser {
			db = ""
		}
	}
	return user, db
}

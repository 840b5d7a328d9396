-- A user's console password (POST /web/login with {user, password}): the
-- bcrypt hash of it, NULL when the user has none (token login only).
ALTER TABLE users ADD COLUMN password_hash BLOB;

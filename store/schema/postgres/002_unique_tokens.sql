-- Version 2: a token opens one workspace. A token that several workspaces were given opened all of them; it is taken
-- from every one of them, and the admin gives each a token of its own again.
UPDATE workspaces SET token_hash = ''
 WHERE token_hash IN (SELECT token_hash FROM workspaces WHERE token_hash <> '' GROUP BY token_hash HAVING count(*) > 1);
DROP INDEX workspaces_token_hash;
CREATE UNIQUE INDEX workspaces_token_hash ON workspaces (token_hash) WHERE token_hash <> '';

package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// settings binds flags to OPTOUT_* environment variables: a flag given on the command line wins, then the variable,
// then the default. Every setting's variable is named in --help.
type settings struct {
	fs   *flag.FlagSet
	errs []string
}

func (s *settings) env(name string) (string, bool) {
	return os.LookupEnv(name)
}

func (s *settings) usage(env, usage string) string {
	return fmt.Sprintf("%s (env %s)", usage, env)
}

func (s *settings) String(name, env, def, usage string) *string {
	if v, ok := s.env(env); ok {
		def = v
	}
	return s.fs.String(name, def, s.usage(env, usage))
}

func (s *settings) Bool(name, env string, def bool, usage string) *bool {
	if v, ok := s.env(env); ok {
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			s.errs = append(s.errs, fmt.Sprintf("%s: %q is not true or false", env, v))
		}
		def = b
	}
	return s.fs.Bool(name, def, s.usage(env, usage))
}

func (s *settings) Int(name, env string, def int, usage string) *int {
	if v, ok := s.env(env); ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			s.errs = append(s.errs, fmt.Sprintf("%s: %q is not a whole number", env, v))
		}
		def = n
	}
	return s.fs.Int(name, def, s.usage(env, usage))
}

func (s *settings) Duration(name, env string, def time.Duration, usage string) *time.Duration {
	if v, ok := s.env(env); ok {
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil {
			s.errs = append(s.errs, fmt.Sprintf("%s: %q is not a duration such as 30s or 5m", env, v))
		}
		def = d
	}
	return s.fs.Duration(name, def, s.usage(env, usage))
}

// check returns the problems with the environment variables, which flag parsing can't see.
func (s *settings) check() error {
	if len(s.errs) > 0 {
		return fmt.Errorf("%s", strings.Join(s.errs, "; "))
	}
	return nil
}

// storeSettings are the settings of every command that opens the store.
type storeSettings struct {
	dataDir *string
	db      *string
	redis   *string
}

func (s *settings) store() *storeSettings {
	return &storeSettings{
		dataDir: s.String("data-dir", "OPTOUT_DATA_DIR", "data", "directory `DIR` of the embedded store, used when there is no --db"),
		db:      s.String("db", "OPTOUT_DB", "", "PostgreSQL `URL` (postgres://...) to use instead of the embedded store"),
		redis:   s.String("redis", "OPTOUT_REDIS", "", "Redis `URL` (redis://...) shared by several instances; optional"),
	}
}

// dsn is what store.Open opens.
func (s *storeSettings) dsn() string {
	if *s.db != "" {
		return *s.db
	}
	return *s.dataDir
}

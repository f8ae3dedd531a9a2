/* Preloaded after the ASan runtime into the servers of `make test-sanitize` (test/lib.sh):
 * with the runtime preloaded into an uninstrumented postgres, glibc's gettext functions
 * deadlock on their own locks, so these take their place and translate nothing. */
char *gettext(const char *m) { return (char *)m; }
char *dgettext(const char *d, const char *m) { (void)d; return (char *)m; }
char *dcgettext(const char *d, const char *m, int c) { (void)d; (void)c; return (char *)m; }
char *ngettext(const char *s, const char *p, unsigned long n) { return (char *)(n == 1 ? s : p); }
char *dngettext(const char *d, const char *s, const char *p, unsigned long n) { (void)d; return (char *)(n == 1 ? s : p); }
char *dcngettext(const char *d, const char *s, const char *p, unsigned long n, int c) {
  (void)d;
  (void)c;
  return (char *)(n == 1 ? s : p);
}
char *textdomain(const char *d) { return (char *)(d ? d : "messages"); }
char *bindtextdomain(const char *d, const char *dir) { (void)d; return (char *)dir; }
char *bind_textdomain_codeset(const char *d, const char *c) { (void)d; return (char *)c; }

/* The runtime is loaded by now: the programs the server starts (archive and restore
 * commands, their shells) run without it. */
extern int unsetenv(const char *name);
__attribute__((constructor)) static void drop_preload(void) { unsetenv("LD_PRELOAD"); }

/* SPDX-License-Identifier: MIT */
/*
 * The sftp plugin through the real loader, against a private OpenSSH sshd
 * this test starts on 127.0.0.1 (ephemeral port, key-only, internal-sftp,
 * its own host key) plus silent and refusing loopback sockets:
 *   settings checks; put/get/delete with modes 0644/0755, atomic replace
 *   (posix-rename) and its remove+rename fallback, no temp files left,
 *   relative roots, the 64 KiB cap; one connection for many operations and
 *   one reconnect when it breaks; host key mismatch, unknown, revoked and
 *   hashed known_hosts entries (messages name the SHA-256 fingerprints as
 *   ssh-keygen prints them); refused keys, passphrases from secrets, the
 *   SSH agent; connection refused, a silent server (timeout), a provider
 *   that stays down. The integration cases (tests/integration/sftp,
 *   e2e-senders) run it under stsctl apply.
 * Without /usr/sbin/sshd the server tests are skipped.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sts_buf.h"
#include "sts_config.h"
#include "sts_diag.h"
#include "sts_err.h"
#include "sts_plugin.h"

/* The text of the last failed plugin call (per-call errors: reterr). */
static char *last_err;
static char **ERR(void)
{
	free(last_err);
	last_err = NULL;
	return &last_err;
}

#define SSHD "/usr/sbin/sshd"

static struct {
	char dir[64];
	char user[64];
	int port;
	pid_t sshd;
	bool have_sshd;
	bool have_plugin;
	char fp_host[80];  /* SHA256:... of the server's host key */
	char fp_other[80]; /* of another ed25519 key */
	pid_t agent;
} E;

static char logbuf[16384];
static int n_connects;

static void log_sink(void *ud, enum sts_plugin_log_level level, const char *prefix, const char *msg)
{
	(void)ud;
	(void)level;
	(void)prefix;
	size_t n = strlen(logbuf);
	snprintf(logbuf + n, sizeof(logbuf) - n, "%s\n", msg);
	if (strncmp(msg, "connected to", 12) == 0)
		n_connects++;
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	int st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The fingerprint ssh-keygen prints for a public key file: "SHA256:..." */
static void fingerprint(const char *pub, char *out, size_t n)
{
	char cmd[512], line[512] = "";
	snprintf(cmd, sizeof(cmd), "ssh-keygen -l -E sha256 -f %s", pub);
	FILE *f = popen(cmd, "r");
	assert_non_null(f);
	assert_non_null(fgets(line, sizeof(line), f));
	pclose(f);
	char *a = strstr(line, "SHA256:"), *e = a ? strchr(a, ' ') : NULL;
	assert_non_null(e);
	snprintf(out, n, "%.*s", (int)(e - a), a);
}

static char *path(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *path(const char *fmt, ...)
{
	static char b[4][1024];
	static int i;
	char *p = b[i++ % 4];
	int n = snprintf(p, sizeof(b[0]), "%s/", E.dir);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p + n, sizeof(b[0]) - (size_t)n, fmt, ap);
	va_end(ap);
	return p;
}

static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof(a);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

static bool port_open(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bool ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(fd);
	return ok;
}

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static int setup(void **state)
{
	(void)state;
	snprintf(E.dir, sizeof(E.dir), "/tmp/sts-test-sftp-XXXXXX");
	if (!mkdtemp(E.dir))
		return -1;
	chmod(E.dir, 0755);
	struct passwd *pw = getpwuid(getuid());
	snprintf(E.user, sizeof(E.user), "%s", pw ? pw->pw_name : "root");
	E.have_plugin = access(STS_BUILD_PLUGIN_DIR "/sftp.so", R_OK) == 0;
	E.have_sshd = E.have_plugin && access(SSHD, X_OK) == 0;
	if (!E.have_sshd)
		return 0;
	if (sh("cd %s && mkdir -p www rel && "
	       "ssh-keygen -q -t ed25519 -N '' -C host -f host_key && "
	       "ssh-keygen -q -t ed25519 -N '' -C other -f other_key && "
	       "ssh-keygen -q -t ecdsa -N '' -C ecdsahost -f ecdsa_host_key && "
	       "ssh-keygen -q -t ed25519 -N '' -C client -f id_client && "
	       "ssh-keygen -q -t ecdsa -b 256 -m PEM -N 'pass phrase 1' -C pass -f id_pass && "
	       "ssh-keygen -q -t ed25519 -N '' -C stranger -f id_stranger && "
	       "cat id_client.pub id_pass.pub >authorized_keys && chmod 600 authorized_keys",
	       E.dir) != 0)
		return -1;
	fingerprint(path("host_key.pub"), E.fp_host, sizeof(E.fp_host));
	fingerprint(path("other_key.pub"), E.fp_other, sizeof(E.fp_other));
	E.port = free_port();
	FILE *f = fopen(path("sshd_config"), "w");
	if (!f)
		return -1;
	fprintf(f,
		"ListenAddress 127.0.0.1:%d\nHostKey %s/host_key\nPidFile %s/sshd.pid\n"
		"AuthorizedKeysFile %s/authorized_keys\nAllowUsers %s\n"
		"PermitRootLogin prohibit-password\nPubkeyAuthentication yes\n"
		"PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"
		"StrictModes no\nX11Forwarding no\nAllowTcpForwarding no\nPermitTTY no\n"
		"Subsystem sftp internal-sftp -d %s\n",
		E.port, E.dir, E.dir, E.dir, E.user, E.dir);
	fclose(f);
	/* known_hosts variants */
	sh("cd %s && echo \"[127.0.0.1]:%d $(cut -d' ' -f1,2 host_key.pub)\" >kh_good && "
	   "echo \"[127.0.0.1]:%d $(cut -d' ' -f1,2 other_key.pub)\" >kh_wrong && "
	   "echo \"127.0.0.1 $(cut -d' ' -f1,2 host_key.pub)\" >kh_port22 && "
	   "printf '# comment\\n\\n@cert-authority *.example ssh-ed25519 AAAA\\n' >kh_unknown && "
	   "cat kh_good kh_unknown >kh_mixed && "
	   "echo \"[127.0.0.1]:%d $(cut -d' ' -f1,2 ecdsa_host_key.pub)\" >kh_ecdsa && "
	   "cp kh_good kh_hashed && ssh-keygen -q -H -f kh_hashed >/dev/null 2>&1 && "
	   "(cat kh_good; echo \"@revoked * $(cut -d' ' -f1,2 host_key.pub)\") >kh_revoked",
	   E.dir, E.port, E.port, E.port);
	if (getuid() == 0)
		mkdir("/run/sshd", 0755);
	E.sshd = fork();
	if (E.sshd == 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM); /* never outlive the test */
		int fd = open(path("sshd.log"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
		dup2(fd, 2);
		execl(SSHD, SSHD, "-D", "-e", "-f", path("sshd_config"), (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 100 && !port_open(E.port); i++)
		usleep(50000);
	return port_open(E.port) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	if (E.sshd > 0) {
		kill(E.sshd, SIGTERM);
		waitpid(E.sshd, NULL, 0);
	}
	if (E.agent > 0) {
		kill(E.agent, SIGTERM);
		waitpid(E.agent, NULL, 0);
	}
	if (!getenv("TEST_SFTP_KEEP"))
		nftw(E.dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

/* ---- opening the plugin ---- */

struct fx {
	struct sts_plugin_host *h;
	struct sts_plugin *p;
	struct sts_diags d;
};

/* Open with settings given as JSON (the plugin key is added); returns the open result. */
static int open_json(struct fx *f, const char *json)
{
	memset(f, 0, sizeof(*f));
	logbuf[0] = '\0';
	n_connects = 0;
	assert_int_equal(sts_plugin_host_new(&f->h), STS_OK);
	const char *dirs[] = {STS_BUILD_PLUGIN_DIR};
	assert_int_equal(sts_plugin_host_set_path(f->h, dirs, 1), STS_OK);
	sts_plugin_host_set_log(f->h, log_sink, NULL);
	json_error_t je;
	json_t *set = json_loads(json, 0, &je);
	if (!set)
		fail_msg("bad test json: %s: %s", je.text, json);
	json_object_set_new(set, "plugin", json_string("sftp"));
	sts_diags_init(&f->d);
	int r = sts_plugin_open(f->h, "web", set, &f->p, &f->d);
	json_decref(set);
	return r;
}

static void close_fx(struct fx *f)
{
	sts_plugin_close(f->p);
	sts_plugin_host_free(f->h);
	sts_diags_release(&f->d);
}

/* Settings for the private sshd with overrides appended as JSON members. */
static void open_ok(struct fx *f, const char *extra)
{
	char json[2048];
	snprintf(json, sizeof(json),
		 "{\"host\": \"127.0.0.1\", \"port\": %d, \"user\": \"%s\", "
		 "\"key_file\": \"%s/id_client\", \"known_hosts\": \"%s/kh_good\", "
		 "\"root\": \"%s/www/{host}\", \"timeout\": 20%s%s}",
		 E.port, E.user, E.dir, E.dir, E.dir, extra ? ", " : "", extra ? extra : "");
	int r = open_json(f, json);
	if (r != STS_OK)
		fail_msg("open: %s", f->d.n ? f->d.v[0].message : sts_strerror(r));
}

static const char *err(struct fx *f)
{
	const char *m = last_err;
	return m ? m : "";
}

/* built without libssh2 (-Dsftp=disabled): nothing to test */
#define NEED_PLUGIN()                                                                              \
	do {                                                                                       \
		if (!E.have_plugin)                                                                \
			skip();                                                                    \
	} while (0)
#define NEED_SSHD()                                                                                \
	do {                                                                                       \
		if (!E.have_sshd)                                                                  \
			skip();                                                                    \
	} while (0)

static mode_t mode_of(const char *p)
{
	struct stat st;
	assert_int_equal(stat(p, &st), 0);
	return st.st_mode & 07777;
}

static char *slurp(const char *p)
{
	static char b[1 << 17];
	FILE *f = fopen(p, "r");
	assert_non_null(f);
	size_t n = fread(b, 1, sizeof(b) - 1, f);
	b[n] = '\0';
	fclose(f);
	return b;
}

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	int n = 0;
	struct dirent *e;
	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.' || (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."));
	closedir(d);
	return n;
}

static const char pol1[] = "version: STSv1\r\nmode: testing\r\nmx: mx.a.example\r\nmax_age: "
			   "86400\r\n";
static const char pol2[] = "version: STSv1\r\nmode: enforce\r\nmx: mx.a.example\r\nmax_age: "
			   "86400\r\n";

/* ---- settings ---- */

static void test_settings(void **state)
{
	(void)state;
	NEED_PLUGIN();
	static const struct {
		const char *json, *want;
	} bad[] = {
	    {"{\"host\": \"h\", \"user\": \"u\", \"root\": \"/w\"}", "known_hosts"},
	    {"{\"host\": \"h\", \"user\": \"u\", \"known_hosts\": \"/k\"}", "root"},
	    {"{\"host\": \"h\", \"user\": \"u\", \"known_hosts\": \"/k\", \"root\": \"/w\", "
	     "\"port\": 70000}",
	     "70000 is above the maximum 65535"},
	    {"{\"host\": \"h h\", \"user\": \"u\", \"known_hosts\": \"/k\", \"root\": \"/w\"}",
	     "not a host"},
	    {"{\"host\": \"h\", \"user\": \"u\", \"known_hosts\": \"/k\", \"root\": "
	     "\"/w/{domain}\"}",
	     "'{host}' once"},
	    {"{\"host\": \"h\", \"user\": \"u\", \"known_hosts\": \"/k\", \"root\": "
	     "\"/w/../etc/{host}\"}",
	     "'..'"},
	    {"{\"host\": \"h\", \"user\": \"u\", \"known_hosts\": \"/k\", \"root\": \"/w\", "
	     "\"timeout\": 0}",
	     "0 is below the minimum 1"},
	    {"{\"host\": \"h\", \"user\": \"u\", \"known_hosts\": \"/k\", \"root\": \"/w\", "
	     "\"passphrase\": \"${env:X}\"}",
	     "needs 'key_file'"},
	    {"{\"host\": \"h\", \"user\": \"u\", \"known_hosts\": \"/k\", \"root\": \"/w\", "
	     "\"passphrase\": \"clear\", \"key_file\": \"/k\"}",
	     "passphrase"},
	    {"{\"host\": \"h\", \"user\": \"u\", \"known_hosts\": \"/k\", \"root\": \"/w\", "
	     "\"password\": \"x\"}",
	     "unknown setting 'password'"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct fx f;
		int r = open_json(&f, bad[i].json);
		assert_int_not_equal(r, STS_OK);
		bool found = false;
		for (size_t k = 0; k < f.d.n; k++)
			found = found || strstr(f.d.v[k].message, bad[i].want) ||
				(f.d.v[k].path && strstr(f.d.v[k].path, bad[i].want));
		if (!found)
			fail_msg("case %zu: want '%s' in: %s", i, bad[i].want,
				 f.d.n ? f.d.v[0].message : "(no diag)");
		close_fx(&f);
	}
	/* a valid one loads without connecting; caps: verify over https, one at a time */
	struct fx f;
	assert_int_equal(open_json(&f, "{\"host\": \"Example.NET\", \"user\": \"u\", "
				       "\"known_hosts\": \"/nonexistent\", \"root\": \"/w\"}"),
			 STS_OK);
	struct sts_web_caps caps;
	sts_plugin_web_caps(f.p, &caps);
	assert_true(caps.verify_https);
	assert_int_equal(caps.max_concurrency, 1);
	assert_int_equal(n_connects, 0);
	/* a policy host that could escape the root never reaches the server */
	assert_int_equal(sts_plugin_web_put(f.p, "../etc", "x", 1, ERR()), STS_EINVAL);
	assert_non_null(strstr(err(&f), "invalid policy host '../etc'"));
	close_fx(&f);
}

/* ---- files ---- */

static void test_put_get_del(void **state)
{
	(void)state;
	NEED_SSHD();
	struct fx f;
	open_ok(&f, NULL);
	const char *file = path("www/mta-sts.a.example/.well-known/mta-sts.txt");
	struct sts_buf b;
	sts_buf_init(&b, STS_CAP_POLICY);
	assert_int_equal(sts_plugin_web_get(f.p, "mta-sts.a.example", &b, ERR()), STS_ENOENT);
	assert_int_equal(sts_plugin_web_put(f.p, "mta-sts.a.example", pol1, strlen(pol1), ERR()),
			 STS_OK);
	assert_string_equal(slurp(file), pol1);
	assert_int_equal(mode_of(file), 0644);
	assert_int_equal(mode_of(path("www/mta-sts.a.example/.well-known")), 0755);
	assert_int_equal(mode_of(path("www/mta-sts.a.example")), 0755);
	assert_int_equal(sts_plugin_web_get(f.p, "mta-sts.a.example", &b, ERR()), STS_OK);
	assert_string_equal(sts_buf_str(&b), pol1);
	/* replace: the inode changes (rename), the content is the new one, no temp left */
	struct stat st1, st2;
	assert_int_equal(stat(file, &st1), 0);
	assert_int_equal(sts_plugin_web_put(f.p, "mta-sts.a.example", pol2, strlen(pol2), ERR()),
			 STS_OK);
	assert_int_equal(stat(file, &st2), 0);
	assert_int_not_equal(st1.st_ino, st2.st_ino);
	assert_string_equal(slurp(file), pol2);
	assert_int_equal(count_entries(path("www/mta-sts.a.example/.well-known")), 1);
	assert_null(strstr(logbuf, "not atomic"));
	sts_buf_reset(&b);
	assert_int_equal(sts_plugin_web_get(f.p, "mta-sts.a.example", &b, ERR()), STS_OK);
	assert_string_equal(sts_buf_str(&b), pol2);
	/* delete: the file and the empty .well-known go, the host directory stays */
	assert_int_equal(sts_plugin_web_del(f.p, "mta-sts.a.example", ERR()), STS_OK);
	assert_int_equal(access(file, F_OK), -1);
	assert_int_equal(access(path("www/mta-sts.a.example/.well-known"), F_OK), -1);
	assert_int_equal(access(path("www/mta-sts.a.example"), F_OK), 0);
	assert_int_equal(sts_plugin_web_del(f.p, "mta-sts.a.example", ERR()), STS_ENOENT);
	assert_int_equal(sts_plugin_web_get(f.p, "mta-sts.a.example", &b, ERR()), STS_ENOENT);
	/* all of it on one connection */
	assert_int_equal(n_connects, 1);
	sts_buf_release(&b);
	close_fx(&f);
}

static void test_many_hosts_one_connection(void **state)
{
	(void)state;
	NEED_SSHD();
	struct fx f;
	open_ok(&f, NULL);
	char host[64];
	for (int i = 0; i < 20; i++) {
		snprintf(host, sizeof(host), "mta-sts.d%02d.example", i);
		assert_int_equal(sts_plugin_web_put(f.p, host, pol1, strlen(pol1), ERR()), STS_OK);
	}
	for (int i = 0; i < 20; i++) {
		struct sts_buf b;
		sts_buf_init(&b, STS_CAP_POLICY);
		snprintf(host, sizeof(host), "mta-sts.d%02d.example", i);
		assert_int_equal(sts_plugin_web_get(f.p, host, &b, ERR()), STS_OK);
		assert_string_equal(sts_buf_str(&b), pol1);
		sts_buf_release(&b);
	}
	assert_int_equal(n_connects, 1);
	close_fx(&f);
}

/* An idle connection gets a keepalive before it is used again, and stays the one connection. */
static void test_keepalive(void **state)
{
	(void)state;
	NEED_SSHD();
	struct fx f;
	open_ok(&f, "\"keepalive\": 1");
	assert_int_equal(sts_plugin_web_put(f.p, "mta-sts.ka.example", pol1, strlen(pol1), ERR()),
			 STS_OK);
	assert_null(strstr(logbuf, "keepalive to"));
	sleep(2);
	struct sts_buf b;
	sts_buf_init(&b, STS_CAP_POLICY);
	assert_int_equal(sts_plugin_web_get(f.p, "mta-sts.ka.example", &b, ERR()), STS_OK);
	assert_string_equal(sts_buf_str(&b), pol1);
	assert_non_null(strstr(logbuf, "keepalive to '127.0.0.1:"));
	assert_null(strstr(logbuf, "failed"));
	assert_int_equal(n_connects, 1);
	sts_buf_release(&b);
	close_fx(&f);
}

/* The server drops the connection (its per-connection process is killed): one reconnect. */
static void test_reconnect(void **state)
{
	(void)state;
	NEED_SSHD();
	struct fx f;
	open_ok(&f, NULL);
	assert_int_equal(sts_plugin_web_put(f.p, "mta-sts.re.example", pol1, strlen(pol1), ERR()),
			 STS_OK);
	assert_int_equal(n_connects, 1);
	/* the children of the listening sshd serve our connection */
	assert_int_equal(sh("pkill -KILL -P %d", (int)E.sshd), 0);
	usleep(200000);
	struct sts_buf b;
	sts_buf_init(&b, STS_CAP_POLICY);
	assert_int_equal(sts_plugin_web_get(f.p, "mta-sts.re.example", &b, ERR()), STS_OK);
	assert_string_equal(sts_buf_str(&b), pol1);
	assert_int_equal(n_connects, 2);
	assert_non_null(strstr(logbuf, "reconnecting once"));
	sts_buf_release(&b);
	close_fx(&f);
}

static void test_relative_root_and_append_host(void **state)
{
	(void)state;
	NEED_SSHD();
	struct fx f;
	/* relative to the sftp start directory; {host} appended when absent */
	open_ok(&f, "\"root\": \"rel/sites/\"");
	assert_int_equal(sts_plugin_web_put(f.p, "mta-sts.rel.example", pol1, strlen(pol1), ERR()),
			 STS_OK);
	assert_string_equal(slurp(path("rel/sites/mta-sts.rel.example/.well-known/mta-sts.txt")),
			    pol1);
	assert_int_equal(mode_of(path("rel/sites")), 0755);
	close_fx(&f);
}

#ifdef STS_TEST_HOOKS /* the sftp plugin reads the hook only then */
static void test_fallback_rename(void **state)
{
	(void)state;
	NEED_SSHD();
	struct fx f;
	setenv("STSCTL_TEST_SFTP_NO_POSIX_RENAME", "1", 1);
	open_ok(&f, NULL);
	unsetenv("STSCTL_TEST_SFTP_NO_POSIX_RENAME");
	const char *file = path("www/mta-sts.fb.example/.well-known/mta-sts.txt");
	assert_int_equal(sts_plugin_web_put(f.p, "mta-sts.fb.example", pol1, strlen(pol1), ERR()),
			 STS_OK);
	assert_null(strstr(logbuf, "not atomic")); /* nothing to replace yet */
	assert_int_equal(sts_plugin_web_put(f.p, "mta-sts.fb.example", pol2, strlen(pol2), ERR()),
			 STS_OK);
	assert_non_null(strstr(logbuf, "by remove and rename (not atomic)"));
	assert_string_equal(slurp(file), pol2);
	assert_int_equal(mode_of(file), 0644);
	assert_int_equal(count_entries(path("www/mta-sts.fb.example/.well-known")), 1);
	close_fx(&f);
}
#endif

static void test_cap_and_not_a_directory(void **state)
{
	(void)state;
	NEED_SSHD();
	struct fx f;
	open_ok(&f, NULL);
	sh("mkdir -p %s/www/mta-sts.big.example/.well-known && "
	   "head -c 70000 /dev/zero | tr '\\0' x "
	   ">%s/www/mta-sts.big.example/.well-known/mta-sts.txt",
	   E.dir, E.dir);
	struct sts_buf b;
	sts_buf_init(&b, STS_CAP_POLICY);
	assert_int_equal(sts_plugin_web_get(f.p, "mta-sts.big.example", &b, ERR()), STS_ETOOLARGE);
	assert_non_null(strstr(err(&f), "is larger than 65536 bytes"));
	sts_buf_release(&b);
	/* the host's web root is a file */
	sh("printf x >%s/www/mta-sts.file.example", E.dir);
	assert_int_equal(sts_plugin_web_put(f.p, "mta-sts.file.example", pol1, strlen(pol1), ERR()),
			 STS_EPROVIDER);
	assert_non_null(strstr(err(&f), "is not a directory"));
	assert_int_equal(n_connects, 1);
	close_fx(&f);
}

/* ---- host keys ---- */

static void expect_put_fails(const char *extra, int want, const char *const *needles)
{
	struct fx f;
	open_ok(&f, extra);
	assert_int_equal(sts_plugin_web_put(f.p, "mta-sts.hk.example", pol1, strlen(pol1), ERR()),
			 want);
	if (getenv("TEST_SFTP_VERBOSE"))
		fprintf(stderr, "# %s\n", err(&f));
	for (size_t i = 0; needles[i]; i++)
		if (!strstr(err(&f), needles[i]))
			fail_msg("want '%s' in: %s", needles[i], err(&f));
	/* sticky: the next operation fails the same way without connecting again */
	char first[1024];
	snprintf(first, sizeof(first), "%s", err(&f));
	struct sts_buf b;
	sts_buf_init(&b, STS_CAP_POLICY);
	assert_int_equal(sts_plugin_web_get(f.p, "mta-sts.hk.example", &b, ERR()), want);
	assert_string_equal(err(&f), first);
	sts_buf_release(&b);
	assert_int_equal(access(path("www/mta-sts.hk.example"), F_OK), -1);
	close_fx(&f);
}

static void test_host_key_mismatch(void **state)
{
	(void)state;
	NEED_SSHD();
	char kh[300];
	snprintf(kh, sizeof(kh), "\"known_hosts\": \"%s/kh_wrong\"", E.dir);
	const char *want[] = {"host key mismatch for '127.0.0.1:", E.fp_host, E.fp_other,
			      "kh_wrong", NULL};
	expect_put_fails(kh, STS_EAUTH, want);
}

static void test_host_key_unknown(void **state)
{
	(void)state;
	NEED_SSHD();
	char kh[300];
	/* only markers and comments; then an entry for port 22 only (OpenSSH: not ours) */
	snprintf(kh, sizeof(kh), "\"known_hosts\": \"%s/kh_unknown\"", E.dir);
	const char *want[] = {"is not in known_hosts", "ssh-ed25519", E.fp_host,
			      "no trust on first use", NULL};
	expect_put_fails(kh, STS_EAUTH, want);
	snprintf(kh, sizeof(kh), "\"known_hosts\": \"%s/kh_port22\"", E.dir);
	expect_put_fails(kh, STS_EAUTH, want);
	/* known_hosts has only an ECDSA key: no common type, the server's key is named */
	snprintf(kh, sizeof(kh), "\"known_hosts\": \"%s/kh_ecdsa\"", E.dir);
	expect_put_fails(kh, STS_EAUTH, want);
	snprintf(kh, sizeof(kh), "\"known_hosts\": \"%s/nonexistent\"", E.dir);
	const char *want2[] = {"cannot read known_hosts", "nonexistent", NULL};
	expect_put_fails(kh, STS_EINVAL, want2);
}

static void test_host_key_revoked(void **state)
{
	(void)state;
	NEED_SSHD();
	char kh[300];
	snprintf(kh, sizeof(kh), "\"known_hosts\": \"%s/kh_revoked\"", E.dir);
	const char *want[] = {"marked @revoked", E.fp_host, NULL};
	expect_put_fails(kh, STS_EAUTH, want);
}

static void test_host_key_hashed_and_mixed(void **state)
{
	(void)state;
	NEED_SSHD();
	const char *files[] = {"kh_hashed", "kh_mixed"};
	for (int i = 0; i < 2; i++) {
		char kh[300];
		snprintf(kh, sizeof(kh), "\"known_hosts\": \"%s/%s\"", E.dir, files[i]);
		struct fx f;
		open_ok(&f, kh);
		assert_int_equal(
		    sts_plugin_web_put(f.p, "mta-sts.hash.example", pol1, strlen(pol1), ERR()),
		    STS_OK);
		assert_non_null(strstr(logbuf, E.fp_host)); /* "connected ... (host key ...)" */
		close_fx(&f);
	}
}

/* ---- authentication ---- */

static void test_auth_refused(void **state)
{
	(void)state;
	NEED_SSHD();
	char kf[300];
	snprintf(kf, sizeof(kf), "\"key_file\": \"%s/id_stranger\"", E.dir);
	const char *want[] = {"authentication failed", "refused the key", "id_stranger", E.user,
			      NULL};
	expect_put_fails(kf, STS_EAUTH, want);
}

static void test_passphrase(void **state)
{
	(void)state;
	NEED_SSHD();
	char extra[400];
	snprintf(extra, sizeof(extra),
		 "\"key_file\": \"%s/id_pass\", \"passphrase\": \"${env:TEST_SFTP_PASS}\"", E.dir);
	setenv("TEST_SFTP_PASS", "pass phrase 1", 1);
	struct fx f;
	open_ok(&f, extra);
	assert_int_equal(sts_plugin_web_put(f.p, "mta-sts.pass.example", pol1, strlen(pol1), ERR()),
			 STS_OK);
	assert_null(strstr(logbuf, "pass phrase 1"));
	close_fx(&f);
	setenv("TEST_SFTP_PASS", "wrong", 1);
	const char *want[] = {"cannot use key_file", "id_pass", "passphrase", NULL};
	expect_put_fails(extra, STS_EAUTH, want);
	unsetenv("TEST_SFTP_PASS");
}

static void test_agent(void **state)
{
	(void)state;
	NEED_SSHD();
	if (access("/usr/bin/ssh-agent", X_OK) != 0)
		skip();
	char sock[300], extra[300];
	snprintf(sock, sizeof(sock), "%s/agent.sock", E.dir);
	E.agent = fork();
	if (E.agent == 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		int fd = open("/dev/null", O_WRONLY);
		dup2(fd, 1);
		execl("/usr/bin/ssh-agent", "ssh-agent", "-D", "-a", sock, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 100 && access(sock, F_OK) != 0; i++)
		usleep(20000);
	assert_int_equal(sh("SSH_AUTH_SOCK=%s ssh-add -q %s/id_client 2>/dev/null", sock, E.dir),
			 0);
	/* no key_file: the agent's key */
	snprintf(extra, sizeof(extra), "\"known_hosts\": \"%s/kh_good\"", E.dir);
	char json[1024];
	snprintf(json, sizeof(json),
		 "{\"host\": \"127.0.0.1\", \"port\": %d, \"user\": \"%s\", %s, "
		 "\"root\": \"%s/www/{host}\", \"timeout\": 20}",
		 E.port, E.user, extra, E.dir);
	char *old = getenv("SSH_AUTH_SOCK") ? strdup(getenv("SSH_AUTH_SOCK")) : NULL;
	setenv("SSH_AUTH_SOCK", sock, 1);
	struct fx f;
	assert_int_equal(open_json(&f, json), STS_OK);
	assert_int_equal(
	    sts_plugin_web_put(f.p, "mta-sts.agent.example", pol1, strlen(pol1), ERR()), STS_OK);
	assert_non_null(strstr(logbuf, "authenticated with the agent key"));
	close_fx(&f);
	unsetenv("SSH_AUTH_SOCK");
	assert_int_equal(open_json(&f, json), STS_OK);
	assert_int_equal(
	    sts_plugin_web_put(f.p, "mta-sts.agent.example", pol1, strlen(pol1), ERR()), STS_EAUTH);
	assert_non_null(strstr(err(&f), "SSH_AUTH_SOCK is not set"));
	close_fx(&f);
	if (old)
		setenv("SSH_AUTH_SOCK", old, 1);
	free(old);
}

/* ---- network failures ---- */

/* Settings aimed at a loopback port that is no SSH server. */
static void open_dead(struct fx *f, int port, int timeout)
{
	char json[512];
	snprintf(json, sizeof(json),
		 "{\"host\": \"127.0.0.1\", \"port\": %d, \"user\": \"u\", \"known_hosts\": "
		 "\"/dev/null\", \"root\": \"/w\", \"timeout\": %d}",
		 port, timeout);
	assert_int_equal(open_json(f, json), STS_OK);
}

static void test_refused_and_down(void **state)
{
	(void)state;
	NEED_PLUGIN();
	int port = free_port(); /* nothing listens there */
	struct fx f;
	open_dead(&f, port, 2);
	char want[64];
	snprintf(want, sizeof(want), "cannot connect to '127.0.0.1:%d'", port);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(sts_plugin_web_put(f.p, "mta-sts.x.example", "x", 1, ERR()),
				 STS_ENET);
		assert_non_null(strstr(err(&f), want));
		assert_non_null(strstr(err(&f), "refused"));
	}
	assert_int_equal(sts_plugin_web_put(f.p, "mta-sts.x.example", "x", 1, ERR()), STS_ENET);
	assert_non_null(strstr(err(&f), "is down: 3 connects failed in a row"));
	close_fx(&f);
}

static void test_silent_server_times_out(void **state)
{
	(void)state;
	NEED_PLUGIN();
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof(a);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 4), 0); /* accepts (the kernel does), never speaks */
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	struct fx f;
	open_dead(&f, ntohs(a.sin_port), 1);
	time_t t0 = time(NULL);
	assert_int_equal(sts_plugin_web_put(f.p, "mta-sts.x.example", "x", 1, ERR()), STS_ETIMEOUT);
	assert_true(time(NULL) - t0 <= 4);
	assert_non_null(strstr(err(&f), "timed out after 1 s"));
	close_fx(&f);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_settings),
	    cmocka_unit_test(test_put_get_del),
	    cmocka_unit_test(test_many_hosts_one_connection),
	    cmocka_unit_test(test_keepalive),
	    cmocka_unit_test(test_reconnect),
	    cmocka_unit_test(test_relative_root_and_append_host),
#ifdef STS_TEST_HOOKS
	    cmocka_unit_test(test_fallback_rename),
#endif
	    cmocka_unit_test(test_cap_and_not_a_directory),
	    cmocka_unit_test(test_host_key_mismatch),
	    cmocka_unit_test(test_host_key_unknown),
	    cmocka_unit_test(test_host_key_revoked),
	    cmocka_unit_test(test_host_key_hashed_and_mixed),
	    cmocka_unit_test(test_auth_refused),
	    cmocka_unit_test(test_passphrase),
	    cmocka_unit_test(test_agent),
	    cmocka_unit_test(test_refused_and_down),
	    cmocka_unit_test(test_silent_server_times_out),
	};
	if (getenv("TEST_SFTP_ONLY")) /* e.g. TEST_SFTP_ONLY='test_pass*' for valgrind runs */
		cmocka_set_test_filter(getenv("TEST_SFTP_ONLY"));
	return cmocka_run_group_tests(tests, setup, teardown);
}

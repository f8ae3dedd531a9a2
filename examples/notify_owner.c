/*
 * notify_owner: listens on apikeys_events and prints what an app would e-mail to a key's
 * owner when a key is created or revoked, or is about to expire (expiring, from
 * apikeys.send_expiry_reminders). A notification is only a wake-up: any role that
 * can connect may send one, so the payload is not trusted. Its event_id is read, and the
 * event row is read by that id with this connection's own privileges (SELECT on
 * apikeys.events and apikeys.keys); a payload naming no event is ignored.
 *
 *   cc -o notify_owner examples/notify_owner.c -I$(pg_config --includedir) -lpq
 *   ./notify_owner "dbname=app" [max_events] [timeout_seconds]
 *
 * It stops after max_events notifications (default: never) or timeout_seconds without one
 * (default: never), so tests can run it bounded.
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>

static void report(PGconn *conn, const char *payload)
{
	const char *params[1] = {payload};
	PGresult   *res;
	char		event_id[21];
	size_t		n;

	/* The event id, as the server's JSON parser reads it: 1-19 digits, or nothing. */
	res = PQexecParams(conn, "SELECT $1::json ->> 'event_id'", 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 || PQgetisnull(res, 0, 0) ||
		(n = strlen(PQgetvalue(res, 0, 0))) == 0 || n > 19 || strspn(PQgetvalue(res, 0, 0), "0123456789") != n)
	{
		printf("ignored a notification that names no event\n");
		fflush(stdout);
		PQclear(res);
		return;
	}
	memcpy(event_id, PQgetvalue(res, 0, 0), n + 1);
	PQclear(res);

	params[0] = event_id;
	res = PQexecParams(conn,
		"SELECT e.action, coalesce(e.details ->> 'owner', k.owner, '(no owner)'), e.key_id, e.actor,"
		"       to_char((e.details ->> 'expires_at')::timestamptz AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI UTC')"
		"  FROM apikeys.events e LEFT JOIN apikeys.keys k ON k.key_id = e.key_id"
		" WHERE e.event_id = $1::bigint",
		1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
	{
		const char *action = PQgetvalue(res, 0, 0);

		if (strcmp(action, "created") == 0 || strcmp(action, "revoked") == 0)
			printf("send mail to owner %s: key %s %s by %s\n", PQgetvalue(res, 0, 1),
				   PQgetvalue(res, 0, 2), action, PQgetvalue(res, 0, 3));
		else if (strcmp(action, "expiring") == 0)
			printf("send mail to owner %s: key %s expires on %s, regenerate it before then\n",
				   PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 4));
		else
			printf("event %s (no mail)\n", action);
	}
	else
		printf("ignored a notification of event %s, which does not exist\n", event_id);
	fflush(stdout);
	PQclear(res);
}

int main(int argc, char **argv)
{
	PGconn	   *conn;
	PGresult   *res;
	long		max_events = argc > 2 ? atol(argv[2]) : -1;
	long		timeout = argc > 3 ? atol(argv[3]) : -1;
	long		seen = 0;

	if (argc < 2)
	{
		fprintf(stderr, "usage: %s CONNINFO [max_events] [timeout_seconds]\n", argv[0]);
		return 2;
	}
	conn = PQconnectdb(argv[1]);
	if (PQstatus(conn) != CONNECTION_OK)
	{
		fprintf(stderr, "connection failed: %s", PQerrorMessage(conn));
		return 1;
	}
	res = PQexec(conn, "LISTEN apikeys_events");
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
	{
		fprintf(stderr, "LISTEN failed: %s", PQerrorMessage(conn));
		return 1;
	}
	PQclear(res);
	printf("listening\n");
	fflush(stdout);

	while (max_events < 0 || seen < max_events)
	{
		int			sock = PQsocket(conn);
		fd_set		input;
		struct timeval tv = {timeout, 0};
		PGnotify   *n;

		FD_ZERO(&input);
		FD_SET(sock, &input);
		if (select(sock + 1, &input, NULL, NULL, timeout >= 0 ? &tv : NULL) <= 0)
			break;				/* timeout or error */
		if (!PQconsumeInput(conn))
			break;
		while ((n = PQnotifies(conn)) != NULL)
		{
			report(conn, n->extra);
			PQfreemem(n);
			seen++;
		}
	}
	PQfinish(conn);
	return 0;
}

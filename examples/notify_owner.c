/*
 * notify_owner: listens on apikeys_events and prints what an app would e-mail to a key's
 * owner when a key is created or revoked. The payload is parsed by the server
 * itself (json operators) on the same connection.
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
	PGresult   *res = PQexecParams(conn,
		"SELECT p->>'action', coalesce(p->>'owner', '(no owner)'), p->>'key_id', p->>'actor'"
		"  FROM (SELECT $1::json AS p) x",
		1, NULL, params, NULL, NULL, 0);

	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
	{
		const char *action = PQgetvalue(res, 0, 0);

		if (strcmp(action, "created") == 0 || strcmp(action, "revoked") == 0)
			printf("send mail to owner %s: key %s %s by %s\n", PQgetvalue(res, 0, 1),
				   PQgetvalue(res, 0, 2), action, PQgetvalue(res, 0, 3));
		else
			printf("event %s (no mail)\n", action);
		fflush(stdout);
	}
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

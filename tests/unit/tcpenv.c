/* tcp-env's reading of an RFC 1413 answer (src/smtpd/tcp-env-ident.c) */
#include <string.h>

#include "harness.h"
#include "tcp-env.h"

/* user - what ident_parse makes of answer for ports 6191 , 23, or "-" */
static const char *user(const char *answer, size_t infomax)
{
  static char buf[2048], info[1100];
  size_t n = strlen(answer);

  memcpy(buf, answer, n);
  memset(info, 'x', sizeof info);
  if (!ident_parse(buf, n, 6191, 23, info, infomax)) return "-";
  return info;
}

TEST(tcpenv_ident_answers)
{
  CHECK(!strcmp(user("6191 , 23 : USERID : UNIX : stjohns\r\n", 1024), "stjohns"));
  CHECK(!strcmp(user("6191,23:USERID:UNIX:stjohns\n", 1024), "stjohns"));
  CHECK(!strcmp(user("  6191  ,  23 :  USERID : OTHER :   joe\r\n", 1024), "joe"));
  /* no line end: the text read is the line; the next line is not read */
  CHECK(!strcmp(user("6191 , 23 : USERID : UNIX : ann", 1024), "ann"));
  CHECK(!strcmp(user("6191 , 23 : USERID : UNIX : ann\r\n6191 , 23 : USERID : UNIX : bob\r\n", 1024), "ann"));
  /* the user is all of the last field, colons and inner spaces too */
  CHECK(!strcmp(user("6191 , 23 : USERID : UNIX , US-ASCII : a b:c\r\n", 1024), "a b:c"));
}

TEST(tcpenv_ident_refusals)
{
  CHECK(!strcmp(user("6191 , 23 : ERROR : NO-USER\r\n", 1024), "-"));
  CHECK(!strcmp(user("6191 , 23 : ERROR : NO-USER : x\r\n", 1024), "-"));
  CHECK(!strcmp(user("6192 , 23 : USERID : UNIX : joe\r\n", 1024), "-"));   /* other ports */
  CHECK(!strcmp(user("6191 , 24 : USERID : UNIX : joe\r\n", 1024), "-"));
  CHECK(!strcmp(user("6191 23 : USERID : UNIX : joe\r\n", 1024), "-"));     /* no comma */
  CHECK(!strcmp(user(" , 23 : USERID : UNIX : joe\r\n", 1024), "-"));
  CHECK(!strcmp(user("6191 , 23 : USERID : UNIX :   \r\n", 1024), "-"));    /* empty user */
  CHECK(!strcmp(user("", 1024), "-"));
  CHECK(!strcmp(user("\r\n", 1024), "-"));
  /* a line break ends the answer before the fields are all there */
  CHECK(!strcmp(user("6191 , 23 : USERID\r\n: UNIX : joe\r\n", 1024), "-"));
  /* the user must fit, with its NUL */
  CHECK(!strcmp(user("6191 , 23 : USERID : UNIX : abcd\r\n", 5), "abcd"));
  CHECK(!strcmp(user("6191 , 23 : USERID : UNIX : abcde\r\n", 5), "-"));
}

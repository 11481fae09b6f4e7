/* err: the message table behind kr_strerror(). */
#include "crdt/err.h"

const char *kr_strerror(int err)
{
  switch (err) {
  case KR_OK: return "success";
#define KR_ERR_CASE(name, msg) case KR_E##name: return msg;
  KR_ERR_MAP(KR_ERR_CASE)
#undef KR_ERR_CASE
  default: return "unknown error";
  }
}

/* errtemp - classify errno values, the one place that decides temporary
 * against permanent. err_temp() is 1 when the error may go away by itself
 * (try again later), 0 when it is permanent (a missing or malformed name,
 * a file too big). In doubt it says temporary. */
#ifndef ERRTEMP_H
#define ERRTEMP_H

int err_temp(int e);

#endif

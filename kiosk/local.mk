# dt4ecg-kiosk: the reference kiosk client (man section 1).
bin_PROGRAMS += kiosk/dt4ecg-kiosk
kiosk_dt4ecg_kiosk_SOURCES = kiosk/kiosk.c kiosk/request.c kiosk/request.h
kiosk_dt4ecg_kiosk_CFLAGS = $(AM_CFLAGS) $(CURL_CFLAGS) $(JANSSON_CFLAGS) \
	$(SODIUM_CFLAGS)
kiosk_dt4ecg_kiosk_LDADD = libproto.a $(ECG_LIBS) $(CURL_LIBS) \
	$(SODIUM_LIBS) $(JANSSON_LIBS)

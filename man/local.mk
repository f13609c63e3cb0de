# man pages, installed by make install.
dist_man_MANS = \
	man/dt4ecgd.8 man/dt4ecgd.conf.5 \
	man/dt4ecg-admin.8 man/dt4ecg-kiosk.1

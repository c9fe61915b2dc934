# nginx from Debian's nginx-light package, as the unprivileged `www-data` user.
FROM botify-base:bookworm
COPY nginx.conf /etc/nginx/nginx.conf
USER www-data
EXPOSE 5001
# -e stderr: the compiled-in error log (/var/log/nginx) is not writable by www-data.
CMD ["nginx", "-e", "stderr", "-g", "daemon off;"]

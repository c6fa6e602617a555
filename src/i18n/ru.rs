//! The Russian text of the help, keyed by clap ids: a command by its path of
//! subcommand names ("" for the top level, "bookings list"), an argument by
//! its command's path and its id (the field name: `dry_run`, not
//! `--dry-run`). `tests/cli/i18n.rs` checks that every command and every
//! argument of the built tree has its text here and that no key is stale.
//!
//! The command lines in the examples are the same as in English; only the
//! words around them change.

/// Commands: (path, description, what follows the options: notes and examples).
pub const COMMANDS: &[(&str, &str, &str)] = &[
    (
        "check",
        "Проверить всё: целостность файла, внешние ключи, счётчики потоков, цепочку аудита, поисковый индекс, очередь сообщений. Код 9 и по строке на каждую находку; подходит для cron.",
        "Примеры:\n  paytrack check\n  paytrack check --quick   # quick_check SQLite вместо полного integrity_check\n\nКоды выхода: 0 ничего не найдено; 9 находки (по строке на stdout); 8 файл не открыть.",
    ),
    (
        "backup",
        "Скопировать базу в FILE, пока другие работают (онлайн-копия SQLite), и проверить копию, как `check`. Копия доступна только владельцу (0600).",
        "Примеры:\n  paytrack backup /srv/backups/paytrack-$(date +%F).db\n  paytrack backup copy.db --force   # заменить прежнюю копию\n\nВосстановление: README, «Backup and restore».",
    ),
    (
        "",
        "Статусы оплаты бронирований курсов, в одном файле SQLite.\n\nСтатусы: confirmed (2, Подтверждено), pending (1, В ожидании), cancelled (-1, Отменено).",
        "\
Переменные окружения:
  PAYTRACK_DB      файл базы или URL postgres:// (--db)
  PAYTRACK_ACTOR   кто действует, для журнала аудита (--actor)
  PAYTRACK_LANG    en или ru (--lang); по умолчанию из LC_ALL, LC_MESSAGES, LANG
  PAYTRACK_TZ      часовой пояс для дат (--tz), например Europe/Moscow; по умолчанию TZ
  PAYTRACK_COLOR   auto, always или never (--color)
  PAYTRACK_WIDE    true: таблицы без сокращений (--wide)
  NO_COLOR         задана: без цвета; CLICOLOR_FORCE=1 включает цвет; TERM=dumb выключает
  COLUMNS          ширина таблиц в терминале (по умолчанию ширина терминала)

Примеры (cron):
  paytrack bookings list --status pending
  paytrack booking set-status 42 confirmed
  paytrack stats streams --csv",
    ),
    (
        "init",
        "Создать базу (вместе с каталогами); на актуальной базе ничего не делает.",
        "Примеры:\n  paytrack init\n  paytrack --db /srv/paytrack/school.db init\n  paytrack --db postgres://admin@db.example.org/school init --adopt",
    ),
    (
        "uninstall",
        "Только PostgreSQL: удалить схему `paytrack` и её триггеры на таблице бота.",
        "Примеры:\n  paytrack --db postgres://admin@db.example.org/school uninstall --yes",
    ),
    (
        "demo",
        "Заполнить базу правдоподобными демо-бронированиями, чтобы сразу попробовать paytrack.",
        "Заполняется только новая или пустая база (или база только с демо-данными);\nбаза с настоящими бронированиями — отказ (код 3).\n\nПримеры:\n  paytrack --db demo.db demo\n  paytrack --db /tmp/big.db demo --bookings 1000000   # для замеров",
    ),
    (
        "bookings",
        "Найти, показать, выгрузить, загрузить и изменить бронирования (`booking` — то же самое).",
        "Примеры:\n  paytrack bookings list --status pending\n  paytrack booking show 42\n  paytrack booking set-status 42 confirmed\n  paytrack bookings export > bookings.csv",
    ),
    (
        "bookings list",
        "Список бронирований, новые сверху.",
        "Примеры:\n  paytrack bookings list --status pending\n  paytrack bookings list --stream 8th_stream --since 7d --csv\n  paytrack bookings list --search ольга --limit 20\n  paytrack bookings list --status pending --cursor 1234   # следующая страница",
    ),
    (
        "bookings show",
        "Одно бронирование с платежами и историей изменений.",
        "Примеры:\n  paytrack booking show 42\n  paytrack booking show 42 --json",
    ),
    (
        "bookings export",
        "Выгрузить подходящие бронирования в CSV или JSONL, в колонках, которые читает `import`.",
        "Примеры:\n  paytrack bookings export > bookings.csv\n  paytrack bookings export --status confirmed --format jsonl\n  paytrack bookings export --redact -o shareable.csv   # без имён",
    ),
    (
        "bookings import",
        "Загрузить выгрузку старой системы (PostgreSQL `\\copy bookings TO ... CSV HEADER`): все строки или ни одной.",
        "Повторный импорт безопасен: где в файле нет нового со времени прошлого импорта, остаются\n\
изменения paytrack (платежи, админы); где файл изменил статус так, как правила запрещают\n\
(confirmed → pending, cancelled → confirmed, confirmed → cancelled без --reason), изменение\n\
не применяется, а выводится как конфликт (код 10; --report FILE — список в CSV).\n\n\
Примеры:\n  paytrack bookings import legacy-bookings.csv\n  paytrack bookings import legacy-bookings.csv --dry-run   # только проверить\n  paytrack bookings import legacy-bookings.csv --report conflicts.csv || alert",
    ),
    (
        "bookings add",
        "Добавить бронирование (для бота, других программ и админов); печатает его номер.",
        "Курс и поток должны быть в каталоге (код 4 называет ближайшее совпадение;\n\
--create-stream добавляет недостающий поток). В заполненный поток — отказ (код 5),\n\
если нет --force --reason. С --key повтор безопасен: тот же ключ снова печатает ту же\n\
бронь, код 0, ничего не пишется.\n\n\
--input - читает по одному JSON-объекту на строку из stdin и добавляет все в одной транзакции\n\
(плохая строка называется по номеру, не добавляется ничего); поля: user_id, username,\n\
first_name, course, stream, referral, discount, status, created_at, key.\n\n\
Примеры:\n  paytrack bookings add --user-id 123 --username @olga --first-name Ольга --course 1 --stream 8th_stream\n  paytrack bookings add --user-id 123 --course 1 --stream 8th_stream --key tg-update-8812 --json\n  bot-export | paytrack bookings add --input -",
    ),
    (
        "bookings edit",
        "Исправить бронирование вручную: перевести в другой поток или курс, сменить скидку, реферала, имена.",
        "Перевод сохраняет статус, платежи и историю; счётчики потоков меняются в той же транзакции.\n\
В заполненный поток — отказ (код 5), если нет --force --reason. Пустое значение очищает\n\
текстовое поле (--referral \"\"); --discount none убирает скидку.\n\n\
Примеры:\n  paytrack bookings edit 42 --stream 9th_stream\n  paytrack bookings edit 42 --stream 9th_stream --expect-stream 8th_stream --dry-run\n  paytrack bookings edit --ids-from group.txt --stream 9th_stream",
    ),
    (
        "undo",
        "Отменить одну операцию (одну команду записи): её смены статуса, правки и добавленные брони.",
        "Каждая команда записи заканчивается строкой `операция OP; отменить: paytrack undo OP` в stderr.\n\
Отмена — всё или ничего, записывается как принудительные изменения с причиной \"undo of OP\".\n\
Если бронь изменили после операции — отказ (код 6) со списком. Отмена подтверждения отзывает\n\
ещё не отправленное сообщение. Платежи, вставленные импортом строки и каталог остаются.\n\n\
Примеры:\n  paytrack undo 7f3a9c01 --dry-run\n  paytrack undo 7f3a9c01",
    ),
    (
        "users",
        "Студенты (пользователи Telegram): вся история человека; блокировка и разблокировка; удаление данных по просьбе.",
        "Примеры:\n  paytrack users show 123456789\n  paytrack users show @olga --json\n  paytrack users block 123456789 --reason \"просил не писать\"\n  paytrack users erase 123456789 --reason \"просьба от 2025-03-01\" --dry-run",
    ),
    (
        "users show",
        "Все брони человека со статусами, платежи, сообщения, блокировка и последние записи журнала.",
        "Примеры:\n  paytrack users show 123456789\n  paytrack users show @olga --json",
    ),
    (
        "users block",
        "Не писать студенту (его сообщения в очереди не уходят); записывается в журнал.",
        "Пример:\n  paytrack users block 123456789 --reason \"просил не писать\"",
    ),
    (
        "users unblock",
        "Снова писать студенту: его сообщения в очереди и задержанные блокировкой уходят снова.",
        "Пример:\n  paytrack users unblock 123456789 --reason \"разблокировал бота\"",
    ),
    (
        "bookings set-status",
        "Изменить статус оплаты одного бронирования, списка номеров или всех подходящих под фильтр.",
        "Примеры:\n  paytrack booking set-status 42 confirmed\n  paytrack booking set-status 42 confirmed --payment-ref pay_1 --amount 30000 --currency RUB\n  paytrack booking set-status 42 cancelled --reason \"просит возврат\"\n  paytrack booking set-status 42 confirmed --expect pending --json   # для скриптов\n  paytrack bookings set-status --ids-from paid.txt --to confirmed\n  paytrack bookings set-status --status pending --stream 8th_stream --older-than 7d --to cancelled --reason unpaid --yes",
    ),
    (
        "stats",
        "Цифры по курсам и потокам, для людей и для cron.",
        "Примеры:\n  paytrack stats streams\n  paytrack stats streams --csv",
    ),
    (
        "stats streams",
        "По курсам и потокам: всего, подтверждено, в ожидании, отменено, конверсия, выручка, места.",
        "Примеры:\n  paytrack stats streams\n  paytrack stats streams --csv\n  paytrack stats streams --since 2024-12-01 --json",
    ),
    (
        "stats verify",
        "Пересчитать все счётчики по бронированиям и показать каждое расхождение (код 9).",
        "Примеры:\n  paytrack stats verify\n  paytrack stats verify || paytrack stats rebuild",
    ),
    (
        "stats rebuild",
        "Пересчитать все счётчики по бронированиям и сохранить (с записью в журнал).",
        "Пример:\n  paytrack stats rebuild",
    ),
    (
        "stats daily",
        "По дням: новые бронирования, подтверждения и отмены.",
        "Примеры:\n  paytrack stats daily\n  paytrack stats daily --days 7 --csv",
    ),
    (
        "streams",
        "Каталог потоков: названия, цены, места; подтверждённые участники потока.",
        "Примеры:\n  paytrack streams list\n  paytrack streams add 9th_stream --course 1 --name \"9-й поток\" --price 30000 --currency RUB --capacity 40\n  paytrack streams members 8th_stream --csv",
    ),
    (
        "streams list",
        "Потоки с названиями, ценами, местами и числом бронирований.",
        "Примеры:\n  paytrack streams list\n  paytrack streams list --course 1 --csv",
    ),
    (
        "streams add",
        "Добавить поток в курс.",
        "Примеры:\n  paytrack streams add 9th_stream --course 1 --name \"9-й поток\" --price 30000 --currency RUB --capacity 40",
    ),
    (
        "streams edit",
        "Изменить название, цену, валюту или число мест потока (`none` убирает цену или места).",
        "Примеры:\n  paytrack streams edit 9th_stream --price 32000\n  paytrack streams edit 9th_stream --course 1 --capacity none",
    ),
    (
        "streams members",
        "Подтверждённые участники потока и кто из них заблокировал бота.",
        "Примеры:\n  paytrack streams members 8th_stream\n  paytrack streams members 8th_stream --course 1 --csv",
    ),
    (
        "courses",
        "Каталог курсов: названия и шаблоны сообщений о подтверждении.",
        "Примеры:\n  paytrack courses list\n  paytrack courses edit 5 --name \"Вайб кодинг 2.0\"",
    ),
    (
        "courses list",
        "Курсы с названиями, шаблонами и числом бронирований.",
        "Примеры:\n  paytrack courses list\n  paytrack courses list --json",
    ),
    (
        "courses add",
        "Добавить курс.",
        "Примеры:\n  paytrack courses add 5 --name \"Вайб кодинг\" --template confirmation.txt",
    ),
    (
        "courses edit",
        "Переименовать курс или сменить шаблон сообщения о подтверждении.",
        "Примеры:\n  paytrack courses edit 5 --name \"Вайб кодинг 2.0\"\n  paytrack courses edit 5 --default-template",
    ),
    (
        "audit",
        "Журнал аудита: кто что изменил и когда, и доказательство, что его не переписали.",
        "Примеры:\n  paytrack audit tail -n 50\n  paytrack audit verify",
    ),
    (
        "audit tail",
        "Последние записи, старые сверху (как tail).",
        "Примеры:\n  paytrack audit tail -n 50\n  paytrack audit tail --booking 42\n  paytrack audit tail --action booking.status_changed --since 2024-12-01 --format csv\n  paytrack audit tail -f",
    ),
    (
        "audit verify",
        "Пройти цепочку хешей и назвать первую запись, изменённую, удалённую или вставленную в обход.",
        "Примеры:\n  paytrack audit verify\n  paytrack audit verify || mail -s 'paytrack audit' admin@example.com < /dev/null\n  paytrack audit verify --expect-head 3f2a…   # хеш головы из прошлого запуска",
    ),
    (
        "payments",
        "Сверить выгрузку платёжного провайдера или банка с бронированиями; список платежей.",
        "Примеры:\n  paytrack payments import yookassa.csv\n  paytrack payments list --attention",
    ),
    (
        "payments import",
        "Загрузить платежи (CSV), подтвердить полностью оплаченные брони, показать, что разобрать вручную.\n\nКод выхода 10, если этот запуск нашёл новое для человека (частичный платёж, переплата, отменённая или несуществующая бронь, без номера брони, несколько номеров броней, конфликт с сохранённым платежом, другая валюта, нулевая сумма, повтор строки). Строки, о которых уже сообщал прошлый запуск и которые никто не разобрал, показываются снова с пометкой, но код 10 не дают (`--strict`: дают).",
        "Колонки (по названию в заголовке; разделитель `,` или `;`; десятичная запятая допустима):\n  external_id, amount (обязательно); provider, booking_id, currency, paid_at, description\n\nПримеры:\n  paytrack payments import yookassa.csv\n  paytrack payments import statement.csv --provider bank --dry-run\n  paytrack payments import yookassa.csv --json || alert",
    ),
    (
        "payments list",
        "Список сохранённых платежей, последние оплаченные сверху.",
        "Примеры:\n  paytrack payments list --booking 42\n  paytrack payments list --outcome partial --csv\n  paytrack payments list --attention --since 7d",
    ),
    (
        "payments assign",
        "Привязать платёж без брони (не найдена, нет номера, несколько номеров) к брони и сверить его там.\n\nПравила те же, что при импорте: полная оплата подтверждает бронь в ожидании (запись в журнале, сообщение); иначе частичный, переплата, отменённая… Уже привязанный платёж переносится только с --force --reason.",
        "Примеры:\n  paytrack payments list --attention\n  paytrack payments assign 17 42\n  paytrack payments assign 17 43 --force --reason \"в переводе не тот номер брони\"",
    ),
    (
        "payments resolve",
        "Отметить платежи, требующие внимания, как разобранные (кто, когда, заметка); они уходят из --attention.\n\nИтог платежа не меняется. Частичный платёж, чья бронь потом оплачена полностью, уходит из --attention сам.",
        "Примеры:\n  paytrack payments resolve 17 --note \"вернули плательщику\"\n  paytrack payments resolve 17 18 19 --note \"повторы строк банка\"",
    ),
    (
        "payments refund",
        "Записать возврат денег по брони; он вычитается из полученного.\n\nПри полном возврате подтверждённой брони предлагается её отменить (вопрос в терминале, подсказка иначе); без вопроса бронь не отменяется.",
        "Примеры:\n  paytrack payments refund 42 --amount 27000 --currency RUB --reason \"студент отказался\"\n  paytrack payments refund 42 --amount 3000 --currency RUB --reason переплата --ref yk_refund_991",
    ),
    (
        "payments providers",
        "Провайдеры, приславшие платежи, и запомненные для их файлов названия колонок и кодировка.",
        "Примеры:\n  paytrack payments providers\n  paytrack payments import statement.csv --provider sber --map amount=Сумма,description=\"Назначение платежа\",paid_at=Дата",
    ),
    (
        "bookings pay-link",
        "Создать платёж у онлайн-провайдера на сумму к оплате брони; напечатать ссылку на страницу оплаты.\n\nСумма — цена за вычетом скидки и уже полученного. Номер брони передаётся в номере заказа / metadata, и уведомление провайдера в `payments serve` подтверждает бронь. Настройки и секреты — из переменных окружения (см. README).",
        "Примеры:\n  paytrack bookings pay-link 42 --provider yookassa --return-url https://t.me/school_bot\n  paytrack bookings pay-link 42 --provider tinkoff --json",
    ),
    (
        "payments fetch",
        "Прочитать через API провайдера успешные платежи и возвраты и сверить те, что не пришли уведомлением.\n\nКаждый сверяется так же, как его уведомление; уже сохранённый (уведомлением или прошлым запуском) пропускается. Код 10, если новый платёж требует внимания.",
        "Примеры:\n  paytrack payments fetch --provider yookassa --since 24h\n  15 * * * *  paytrack payments fetch --provider yookassa --since 2h || notify-admin",
    ),
    (
        "payments serve",
        "Принимать уведомления об онлайн-оплатах (Т-Банк, CloudPayments, ЮKassa, Stripe) по HTTP.\n\nPOST /webhooks/{tinkoff,cloudpayments,yookassa,stripe}; каждое уведомление проверяется так, как описывает провайдер, и сверяется по правилам `payments import`. Секреты только из переменных окружения; провайдер без секрета отвечает 404. Останавливается по Ctrl-C/SIGTERM.",
        "Окружение:\n  PAYTRACK_TINKOFF_PASSWORD, PAYTRACK_CLOUDPAYMENTS_SECRET,\n  PAYTRACK_YOOKASSA_SHOP_ID + PAYTRACK_YOOKASSA_SECRET_KEY, PAYTRACK_STRIPE_WEBHOOK_SECRET\n\nПримеры:\n  paytrack payments serve --listen 127.0.0.1:8080",
    ),
    (
        "completions",
        "Напечатать скрипт автодополнения для оболочки.",
        "Примеры:\n  paytrack completions bash > ~/.local/share/bash-completion/completions/paytrack\n  paytrack completions zsh > ~/.zfunc/_paytrack\n  paytrack completions fish > ~/.config/fish/completions/paytrack.fish\n  paytrack completions powershell >> $PROFILE",
    ),
    (
        "man",
        "Напечатать страницу руководства (roff) в stdout.",
        "Примеры:\n  paytrack man > ~/.local/share/man/man1/paytrack.1\n  paytrack man | man -l -",
    ),
    (
        "outbox",
        "Сообщения студентам: очередь и доставка (своей командой или через Telegram).",
        "Примеры:\n  paytrack outbox list --status failed\n  paytrack outbox drain --telegram",
    ),
    (
        "outbox list",
        "Сообщения в очереди, отправленные и недоставленные, новые сверху (число по статусам — в stderr).",
        "Примеры:\n  paytrack outbox list\n  paytrack outbox list --status failed\n  paytrack outbox list --status pending --all --csv",
    ),
    (
        "outbox drain",
        "Доставить сообщения, которым пора, каждое один раз; можно из cron раз в минуту, даже два запуска сразу.",
        "\
Сообщение сначала захватывается, потом отправляется, поэтому два запуска не отправят его дважды;
захват упавшего запуска переходит к следующему после срока аренды (доставка — хотя бы один раз).
Ошибки повторяются следующими запусками через 1, 2, 4 ... 60 минут; после --max-attempts
сообщение становится failed. Ответ Telegram 403 «bot was blocked by the user» сразу завершает
его неудачей и вносит студента в список заблокировавших; на 429 ждём, сколько просит Telegram.

--exec: команда получает одну строку JSON в stdin (id, booking_id, chat_id, kind, body, attempts)
и PAYTRACK_MESSAGE_ID, PAYTRACK_CHAT_ID в окружении; код выхода 0 — доставлено.
--telegram: токен берётся только из PAYTRACK_TELEGRAM_TOKEN (не флаг, нигде не печатается);
PAYTRACK_TELEGRAM_API заменяет https://api.telegram.org.

Код выхода: 0 — ничего не потеряно, 10 — сообщение не доставлено окончательно в этом запуске
(см. `outbox list --status failed`), 11 — канал непригоден: команда --exec не запускается (код 126
или 127, например опечатка в имени) или токен отвергнут; drain останавливается на первом сообщении,
не расходуя попыток. Ctrl-C даёт отправляемому сообщению завершиться и записаться; так же
--max-time: по его истечении новые сообщения не захватываются, остальные ждут в очереди (код как обычно).

Примеры:
  paytrack outbox drain --telegram
  paytrack outbox drain --exec ./send-mail.sh --limit 100
  * * * * *  PAYTRACK_TELEGRAM_TOKEN=... paytrack --db /srv/paytrack.db outbox drain --telegram -q",
    ),
    // Messages an admin controls (issue 14).
    (
        "outbox show",
        "Одно сообщение так, как оно будет отправлено (по текущим шаблонам и каталогу), или как было отправлено.",
        "Примеры:\n  paytrack outbox show 17\n  paytrack outbox show 17 --json",
    ),
    (
        "outbox cancel",
        "Остановить сообщения до отправки (статус cancelled; остаются в очереди и в журнале аудита).",
        "Отменить можно только сообщения в очереди (pending) и недоставленные (failed).\n\nПримеры:\n  paytrack outbox cancel 17 18 --reason \"сообщили по телефону\"\n  paytrack outbox cancel --booking 42\n  paytrack outbox cancel --kind confirmed --status pending --yes --reason \"исторический импорт\"",
    ),
    (
        "outbox retry",
        "Вернуть недоставленные (или отменённые) сообщения в очередь: к отправке сейчас, попытки с нуля.",
        "Примеры:\n  paytrack outbox retry 17 18",
    ),
    (
        "outbox queue",
        "Поставить сообщение студенту брони вручную (например, об отмене, которое никто не отправил).",
        "Примеры:\n  paytrack outbox queue 42 --kind cancelled",
    ),
    (
        "bookings remind",
        "Напоминание об оплате каждой подходящей брони, если его не было в пределах --every (заблокировавшие бота пропускаются).",
        "Текст — шаблон курса вида reminder (`courses template ID --kind reminder`); неотправленное\nнапоминание отзывается, когда бронь оплачена или отменена.\n\nПримеры:\n  paytrack bookings remind --older-than 2d --dry-run\n  paytrack bookings remind --older-than 2d --stream 8th_stream --every 3d\n  0 10 * * *  paytrack --db /srv/paytrack.db bookings remind --older-than 2d --every 3d",
    ),
    (
        "streams broadcast",
        "Поставить в очередь по сообщению каждому участнику потока (заблокировавшие бота пропускаются и считаются).",
        "Файл с текстом — шаблон (подстановки как в `courses template`); без него берётся шаблон курса\nвида broadcast. В терминале число получателей показывается и подтверждается; иначе нужен --yes.\nС --key повторный запуск той же рассылки ничего нового не ставит.\n\nПримеры:\n  paytrack streams broadcast 8th_stream --text-file start.txt --dry-run\n  paytrack streams broadcast 8th_stream --text-file start.txt --key start-2024-12 --yes",
    ),
    (
        "courses template",
        "Показать или задать шаблон сообщения курса одного вида (confirmed, cancelled, reminder, broadcast).",
        "Подстановки: {first_name} {course} {stream} {booking_id} {amount_due} {chat_link}.\nПодстановка одна в скобках, например ({stream}), исчезает вместе с ними, если пуста.\nНеизвестная подстановка или текст длиннее 4096 символов после подстановки отвергаются (код 3).\nСообщения в очереди собираются при отправке, поэтому исправление до них доходит.\n\nПримеры:\n  paytrack courses template 5 --kind reminder\n  paytrack courses template 5 --kind reminder --file reminder.txt\n  paytrack courses template 5 --kind cancelled --reset"
    ),
    // --- issue 20 (personal data)
    (
        "users erase",
        "Стереть то, что указывает на человека: имена, текст поиска, назначения платежей, тексты сообщений, значения в журнале. Id, статусы, суммы и даты остаются.\n\nИмена заменяются постоянным псевдонимом (erased-<хеш>), тексты сообщений стираются, неотправленные сообщения ему не уходят, личные значения его записей журнала стираются (цепочка по-прежнему проверяется). Одна запись журнала: id пользователя и причина. Всё или ничего.",
        "Примеры:\n  paytrack users erase 123456789 --reason \"просьба от 2025-03-01\" --dry-run\n  paytrack users erase 123456789 --reason \"просьба от 2025-03-01\" --yes",
    ),
    (
        "retention",
        "Хранить личные данные не дольше нужного: старые брони под псевдоним, старые тексты сообщений стереть.",
        "Примеры:\n  paytrack retention apply --bookings-older-than 3y --messages-older-than 1y --dry-run\n  paytrack retention apply --bookings-older-than 3y --messages-older-than 1y",
    ),
    (
        "retention apply",
        "Старые брони под псевдоним, тексты старых сообщений стереть.\n\nВозраст: число и y (годы), m (месяцы) или d (дни) от текущего момента. Брони старше --bookings-older-than (по дате создания) стираются так же, как `users erase` для одного человека; у отправленных и недоставленных сообщений старше --messages-older-than стирается текст.",
        "Примеры:\n  paytrack retention apply --bookings-older-than 3y --messages-older-than 1y --dry-run\n  # crontab: каждую ночь в 03:45\n  45 3 * * * paytrack --db /srv/paytrack/school.db retention apply --bookings-older-than 3y --messages-older-than 1y",
    ),
];
/// Arguments: (command path, clap id, help). The path "" is the top level
/// (the global options), "*" an id's text wherever a command has no own.
pub const ARGS: &[(&str, &str, &str)] = &[
    ("", "actor", "Кто вносит изменения, для журнала аудита [переменная: PAYTRACK_ACTOR] [по умолчанию: пользователь ОС]"),
    ("", "color", "Когда раскрашивать: auto раскрашивает терминал (stdout и stderr — каждый по себе), если не задана NO_COLOR и не TERM=dumb"),
    ("", "db", "Файл базы [по умолчанию: $XDG_DATA_HOME/paytrack/paytrack.db] или URL postgres://. Названный файл должен существовать (см. `init`)"),
    ("", "lang", "Язык таблиц и сообщений [по умолчанию: из LC_ALL/LC_MESSAGES/LANG]"),
    ("", "tz", "Часовой пояс, в котором показываются и читаются даты, например Europe/Moscow [по умолчанию: системный, TZ]"),
    ("", "wide", "Показывать колонки целиком: без сокращений (до 4096 знаков в ячейке) и без переносов"),
    ("*", "all", "Показать все подходящие строки"),
    ("*", "capacity", "Число мест; `none` убирает его"),
    ("*", "course", "Номер курса"),
    ("*", "csv", "То же, что --format csv"),
    ("*", "currency", "Валюта цены, например RUB"),
    ("*", "file", "Файл CSV со строкой заголовков (`-` — stdin)"),
    ("*", "format", "Формат вывода: table для людей; csv, json, jsonl для скриптов"),
    ("*", "id", "Номер курса"),
    ("*", "ids_from", "Применить к номерам из этого файла, по одному в строке (`-` — stdin): одна транзакция, всё или ничего"),
    ("*", "json", "То же, что --format json"),
    ("*", "kind", "Только сообщения этого вида"),
    ("*", "limit", "Сколько строк показать"),
    ("*", "name", "Название для людей, например \"9-й поток\""),
    ("*", "payment", "Состояние оплаты по записанным платежам"),
    ("*", "price", "Цена потока, например 30000 или 27000.50; `none` убирает её"),
    ("*", "raw", "Ячейки CSV в точности как хранятся: без защиты от формул электронных таблиц (для программ)"),
    ("*", "reason", "Причина; сохраняется в журнале аудита"),
    ("*", "redact", "Не показывать то, что указывает на студентов: имена, назначения платежей, тексты сообщений, причины"),
    ("*", "referral", "Реферальный код"),
    ("*", "search", "Имя пользователя или имя содержит этот текст (регистр, диакритика и ё/е не важны; @user ищет по имени пользователя)"),
    ("*", "since", "Создано не раньше: 2024-12-01 или 01.12.2024, RFC 3339, today, yesterday, 7d, 24h"),
    ("*", "status", "Статус: confirmed, pending, cancelled или all (а также 2, 1, -1, paid, canceled)"),
    ("*", "stream", "Код потока, например 8th_stream (\"\" — брони без потока)"),
    ("*", "template", "Файл шаблона сообщения о подтверждении (подстановки: {first_name} {username} {course_name} {stream_name} {booking_id})"),
    ("*", "until", "Создано раньше (те же формы, что у --since)"),
    ("*", "user", "Id пользователя Telegram или @username"),
    ("*", "yes", "Не спрашивать подтверждения (нужно, когда нет терминала)"),
    ("audit tail", "action", "Только это действие, например booking.status_changed"),
    ("audit tail", "actor", "Только записи этого исполнителя"),
    ("audit tail", "booking", "Только записи об этой брони"),
    ("audit tail", "follow", "Печатать новые записи по мере появления, до Ctrl-C"),
    ("audit tail", "lines", "Сколько записей [по умолчанию: 20; с --since, --until или --operation — все подходящие]"),
    ("audit tail", "operation", "Только записи этой операции (её id печатает команда записи; см. `paytrack undo`)"),
    ("audit tail", "since", "Только записи не раньше (2024-12-01, RFC 3339, today, 7d...)"),
    ("audit tail", "until", "Только записи раньше"),
    ("audit verify", "expect_head", "Хеш головы, напечатанный прошлым `audit verify`: ошибка, если этой записи больше нет в цепочке"),
    ("backup", "encrypt_to", "Зашифровать копию для этого получателя age (открытый ключ `age1…`; можно несколько раз): незашифрованная копия существует только как закрытый временный файл на время проверки"),
    ("backup", "file", "Куда записать копию (новый файл; существующий обычный файл — только с --force)"),
    ("backup", "force", "Заменить FILE, если он есть (никогда не каталог, ссылку, устройство или саму базу)"),
    ("bookings add", "course", "Номер курса (должен быть в каталоге)"),
    ("bookings add", "create_stream", "Добавить поток в каталог, если его там нет"),
    ("bookings add", "created_at", "Когда студент записался: 2024-12-01, RFC 3339, now [по умолчанию: сейчас]"),
    ("bookings add", "discount", "Скидка в процентах, от 0 до 100"),
    ("bookings add", "dry_run", "Проверить всё и показать, что было бы добавлено, ничего не записывая"),
    ("bookings add", "first_name", "Имя, как его показывает Telegram"),
    ("bookings add", "force", "Добавить в поток без свободных мест (нужна --reason)"),
    ("bookings add", "input", "Прочитать брони из FILE (`-` — stdin) в формате JSON Lines, все в одной транзакции; печатает по строке JSON на бронь"),
    ("bookings add", "json", "Напечатать бронь в JSON на stdout"),
    ("bookings add", "key", "Ключ идемпотентности: добавление с уже виденным ключом возвращает ту бронь и ничего не пишет"),
    ("bookings add", "no_notify", "С --status confirmed: не ставить сообщение о подтверждении в очередь"),
    ("bookings add", "reason", "Причина (с --force); сохраняется в журнале аудита"),
    ("bookings add", "status", "Статус новой брони"),
    ("bookings add", "stream", "Код потока, например 8th_stream (должен быть в каталоге, или --create-stream)"),
    ("bookings add", "user_id", "Id студента в Telegram"),
    ("bookings add", "username", "Имя пользователя Telegram (с @ или без)"),
    ("bookings edit", "course", "Перевести в этот курс"),
    ("bookings edit", "create_stream", "Добавить целевой поток в каталог, если его там нет"),
    ("bookings edit", "discount", "Скидка в процентах (от 0 до 100) или none"),
    ("bookings edit", "dry_run", "Показать «было → стало»; ничего не записывать"),
    ("bookings edit", "expect_stream", "Отказ (код 6), если бронь сейчас не в этом потоке (\"\" — без потока)"),
    ("bookings edit", "first_name", "Имя (\"\" очищает)"),
    ("bookings edit", "force", "Перевести в поток без свободных мест (нужна --reason)"),
    ("bookings edit", "id", "Номер брони (или --ids-from)"),
    ("bookings edit", "max", "С --ids-from: ничего не менять и выйти с кодом 10, назвав число, если в файле больше N номеров"),
    ("bookings edit", "referral", "Реферальный код (\"\" очищает)"),
    ("bookings edit", "stream", "Перевести в этот поток (\"\" — без потока)"),
    ("bookings edit", "username", "Имя пользователя Telegram, с @ или без (\"\" очищает)"),
    ("bookings export", "encrypt_to", "Зашифровать вывод для этого получателя age (открытый ключ `age1…`; можно несколько раз). Расшифровать: `age -d -i key.txt FILE`"),
    ("bookings export", "force", "Заменить файл --output, если он есть (только обычный файл, который не база)"),
    ("bookings export", "format", "csv (по умолчанию) или jsonl"),
    ("bookings export", "output", "Писать в этот файл вместо stdout"),
    ("bookings export", "raw", "Ячейки CSV в точности как хранятся (без защиты от формул); для файла, который читает программа"),
    ("bookings export", "redact", "Без имён пользователей и имён, чтобы поделиться"),
    ("bookings import", "accept_ours", "Решить конфликты этих броней в пользу paytrack (номера через запятую, каждый есть в файле): строки файла отмечаются как виденные и не применяются, и следующий импорт о них молчит, пока файл их снова не изменит. Записывается в журнал"),
    ("bookings import", "assume_tz", "Пояс, в котором записаны времена без смещения от UTC (например Europe/Moscow); без него такие времена отвергаются"),
    ("bookings import", "dry_run", "Проверить файл и показать, что изменилось бы, ничего не записывая"),
    ("bookings import", "force", "Принять статусы файла даже там, где правила их запрещают (записывается как принудительное; нужна --reason)"),
    ("bookings import", "max", "Ничего не менять и выйти с кодом 10, назвав число, если файл изменил бы больше N уже известных броней (новые строки не считаются)"),
    ("bookings import", "raw", "Файл записан `bookings export --raw`: брать каждую ячейку как есть (без него защита от формул обычной выгрузки снимается)"),
    ("bookings import", "reason", "Причина (с --force; также позволяет файлу отменить подтверждённую бронь); сохраняется в журнале аудита"),
    ("bookings import", "report", "Записать конфликты (статусы, которые правила запрещают) в этот файл CSV"),
    ("bookings list", "after", "Начать после брони с этим номером (постраничный вывод по ключу; с --sort newest|oldest)"),
    ("bookings list", "cursor", "Начать после этого курсора, напечатанного под прошлой страницей"),
    ("bookings list", "sort", "Порядок строк"),
    ("bookings pay-link", "booking", "Бронь, которую оплачивают (в ожидании; у её потока есть цена)"),
    ("bookings pay-link", "json", "Напечатать ссылку в JSON на stdout (для бота)"),
    ("bookings pay-link", "provider", "Где создать платёж"),
    ("bookings pay-link", "return_url", "Страница, на которую провайдер вернёт студента (YooKassa, Stripe) [переменная: PAYTRACK_PAY_RETURN_URL]"),
    ("bookings remind", "by_created_at", "Считать --older-than от created_at брони (время старой системы для импортированной брони), а не от того, когда paytrack о ней узнал (её первый импорт)"),
    ("bookings remind", "course", "Только этот курс"),
    ("bookings remind", "dry_run", "Показать, кто получил бы напоминание; ничего не ставить в очередь"),
    ("bookings remind", "every", "Пропустить бронь, которой напоминание ставилось в очередь за этот срок (3d, 12h)"),
    ("bookings remind", "json", "Напечатать результат в JSON на stdout"),
    ("bookings remind", "max", "Ничего не ставить в очередь и выйти с кодом 10, назвав число, если напоминаний больше N"),
    ("bookings remind", "older_than", "Только брони, которые paytrack знает дольше этого (2d, 36h, 1w): с их первого импорта или с created_at, если импорта не было"),
    ("bookings remind", "status", "Только брони в этом статусе"),
    ("bookings remind", "stream", "Только этот поток"),
    ("bookings set-status", "amount", "Оплаченная сумма (с --payment-ref), например 30000 или 27000.50"),
    ("bookings set-status", "by_created_at", "Массово: считать --older-than от created_at (время старой системы для импортированной брони)"),
    ("bookings set-status", "course", "Массово: только этот курс"),
    ("bookings set-status", "currency", "Валюта --amount, например RUB"),
    ("bookings set-status", "current", "Массово: только брони в этом статусе"),
    ("bookings set-status", "dry_run", "Показать, что изменится; ничего не записывать"),
    ("bookings set-status", "expect", "Отказ (код 6), если у брони сейчас не этот статус"),
    ("bookings set-status", "force", "Разрешить изменение, которое правила запрещают (нужна --reason; записывается как принудительное)"),
    ("bookings set-status", "id", "Номер брони (не нужен с --ids-from или фильтром)"),
    ("bookings set-status", "include_paid", "Массовая отмена по фильтру: отменять и брони, по которым пришли деньги (иначе они пропускаются и перечисляются)"),
    ("bookings set-status", "json", "Напечатать результат в JSON на stdout"),
    ("bookings set-status", "max", "Массово: ничего не менять и выйти с кодом 10, назвав число, если выбрано больше N броней"),
    ("bookings set-status", "no_notify", "Записать изменение, не ставя сообщений в очередь (неотправленное подтверждение всё равно отзывается)"),
    ("bookings set-status", "older_than", "Массово: только брони, которые paytrack знает дольше этого (7d, 24h, 2w): с их первого импорта или с created_at, если импорта не было"),
    ("bookings set-status", "payment_ref", "Номер платежа, который записать вместе с изменением"),
    ("bookings set-status", "provider", "Платёжный провайдер --payment-ref"),
    ("bookings set-status", "reason", "Причина (нужна для confirmed → cancelled и с --force); сохраняется в журнале аудита"),
    ("bookings set-status", "stream", "Массово: только этот поток"),
    ("bookings set-status", "target", "Новый статус: confirmed, pending, cancelled (а также 2, 1, -1, paid, canceled, русские названия)"),
    ("bookings set-status", "to", "Новый статус (для --ids-from и фильтров)"),
    ("bookings set-status", "yes", "Массово: не спрашивать подтверждения (нужно, когда нет терминала)"),
    ("bookings show", "id", "Номер брони"),
    ("check", "quick", "Выполнить quick_check SQLite (без сверки индексов с таблицами) вместо integrity_check"),
    ("completions", "shell", "Оболочка"),
    ("courses add", "id", "Номер курса, как его используют брони"),
    ("courses add", "name", "Название для людей"),
    ("courses edit", "default_template", "Вернуть сообщение о подтверждении по умолчанию"),
    ("courses edit", "name", "Новое название"),
    ("courses edit", "template", "Файл шаблона сообщения о подтверждении"),
    ("courses template", "file", "Задать шаблон из этого файла (без него печатается текущий шаблон)"),
    ("courses template", "kind", "Какое сообщение"),
    ("courses template", "reset", "Вернуть текст по умолчанию"),
    ("demo", "bookings", "Сколько броней создать"),
    ("demo", "seed", "Начальное значение генератора (то же значение — те же данные)"),
    ("init", "adopt", "Добавить таблицы paytrack в файл SQLite другого приложения (иначе отказ). Его таблицы остаются как есть; файл с таблицей под тем же именем, что у paytrack, или со своей версией схемы — отказ. С URL postgres://: проверить public.bookings бота и поставить на неё триггеры счётчиков paytrack"),
    ("init", "login_role", "С URL postgres://: роль, от которой подключаются команды paytrack, получает только нужное: дописывает в журнал аудита, но изменить его не может. Можно несколько раз; следующие `init` снова выдают права названным раньше ролям"),
    ("init", "no_counters", "С --adopt и URL postgres://: не ставить триггеры счётчиков на таблицу бота. Тогда `stats` считает на лету GROUP BY по броням (медленнее на большой таблице) и сообщает об этом"),
    ("init", "owner_role", "С URL postgres://: создать схему, таблицы и функции paytrack от этой роли (NOLOGIN), в которую входит подключающаяся роль, чтобы роль команд paytrack ничем не владела (см. README \"Running against PostgreSQL\" → Roles). Существующая схема должна принадлежать ей"),
    ("outbox cancel", "booking", "Все неотправленные сообщения этой брони"),
    ("outbox cancel", "ids", "Номера сообщений"),
    ("outbox cancel", "max", "Ничего не отменять и выйти с кодом 10, назвав число, если подходит больше N сообщений"),
    ("outbox cancel", "reason", "Причина; сохраняется у каждого сообщения и в журнале аудита"),
    ("outbox cancel", "status", "Только сообщения в этом статусе: pending (по умолчанию) или failed"),
    ("outbox cancel", "yes", "Нужно для отмены по --kind без --booking (сообщений может быть много)"),
    ("outbox drain", "exec", "Доставлять, запуская CMD (через `sh -c`) по разу на сообщение, сообщение в JSON на stdin; код 0 — доставлено"),
    ("outbox drain", "limit", "Отправить за этот запуск не больше N сообщений"),
    ("outbox drain", "max_time", "Не захватывать новые сообщения по прошествии этого времени (отправляемое завершится): 50s, 10m, 1h"),
    ("outbox drain", "max_attempts", "После стольких попыток сообщение считается недоставленным"),
    ("outbox drain", "pass_env", "Показать команде --exec эту переменную окружения, хотя в ней секрет (PAYTRACK_TELEGRAM_TOKEN, PAYTRACK_DB, PGPASSWORD иначе скрыты). Можно несколько раз"),
    ("outbox drain", "quiet", "Печатать только то, что требует человека (сообщения, не доставленные окончательно); для cron"),
    ("outbox drain", "telegram", "Доставлять через Telegram Bot API (токен из переменной окружения PAYTRACK_TELEGRAM_TOKEN)"),
    ("outbox drain", "timeout", "Бросить одну отправку через столько времени (команда завершается): 500ms, 30s, 2m"),
    ("outbox list", "all", "Показать все подходящие сообщения"),
    ("outbox list", "booking", "Только сообщения об этой брони"),
    ("outbox list", "course", "Курс потока (нужен, когда у двух курсов одинаковый код потока)"),
    ("outbox list", "full_body", "Показывать тексты сообщений целиком (по умолчанию в списке первые 40 знаков)"),
    ("outbox list", "limit", "Сколько сообщений показать"),
    ("outbox list", "status", "Только сообщения в этом статусе"),
    ("outbox list", "stream", "Только сообщения о бронях этого потока (\"\" — брони без потока)"),
    ("outbox list", "user", "Только сообщения этому студенту (id пользователя Telegram)"),
    ("outbox queue", "booking", "Номер брони"),
    ("outbox queue", "kind", "Вид сообщения (его текст — шаблон курса этого вида)"),
    ("outbox retry", "ids", "Номера сообщений (недоставленных или отменённых)"),
    ("outbox show", "id", "Номер сообщения"),
    ("outbox show", "json", "Напечатать сообщение в JSON на stdout"),
    ("payments assign", "booking", "Бронь, за которую этот платёж"),
    ("payments assign", "force", "Перенести платёж, уже привязанный к брони"),
    ("payments assign", "json", "Напечатать результат в JSON на stdout"),
    ("payments assign", "payment", "Номер платежа (первая колонка `payments list`)"),
    ("payments assign", "reason", "Причина (сохраняется в журнале аудита; нужна с --force)"),
    ("payments fetch", "json", "Напечатать числа в JSON на stdout"),
    ("payments fetch", "provider", "Какого провайдера спросить: yookassa (его списки платежей и возвратов) или tinkoff (GetState для каждой ссылки, созданной `bookings pay-link` начиная с --since)"),
    ("payments fetch", "since", "Насколько назад: длительность (24h, 7d) или дата"),
    ("payments import", "all", "Показать в таблице все строки, требующие внимания (по умолчанию первые 20; --csv и --json выводят все)"),
    ("payments import", "dry_run", "Выполнить весь импорт, показать итог и откатить его"),
    ("payments import", "encoding", "Читать файл в этой кодировке (utf-8, windows-1251…), а не определять её; запоминается для --provider"),
    ("payments import", "map", "Названия колонок банка: amount=Сумма,description=Назначение платежа,paid_at=Дата. Запоминаются для --provider"),
    ("payments import", "no_notify", "Записать платежи и подтверждения, не ставя сообщений в очередь (например, исторический импорт платежей, о которых студенты знают)"),
    ("payments import", "provider", "Провайдер для строк без колонки или ячейки provider, например bank"),
    ("payments import", "strict", "Код 10 за каждую строку, требующую человека, и за те, о которых уже сообщал прошлый запуск"),
    ("payments list", "attention", "Только итоги, которые должен посмотреть человек"),
    ("payments list", "booking", "Только платежи этой брони"),
    ("payments list", "outcome", "Только этот итог"),
    ("payments list", "provider", "Только этот провайдер"),
    ("payments list", "since", "Оплачено не раньше: 2024-12-01, RFC 3339, today, yesterday, 7d, 24h"),
    ("payments list", "until", "Оплачено раньше (те же формы, что у --since)"),
    ("payments refund", "amount", "Возвращённая сумма, например 27000 или 27 000,50 (положительная)"),
    ("payments refund", "booking", "Бронь, за которую вернули деньги"),
    ("payments refund", "currency", "Её валюта (три буквы, например RUB)"),
    ("payments refund", "json", "Напечатать результат в JSON на stdout"),
    ("payments refund", "provider", "Кто выплатил"),
    ("payments refund", "reason", "Почему вернули деньги (сохраняется в журнале аудита)"),
    ("payments refund", "reference", "Номер возврата у провайдера [по умолчанию: создаётся]"),
    ("payments resolve", "json", "Напечатать результат в JSON на stdout"),
    ("payments resolve", "note", "Что сделано (сохраняется с платежом и в журнале аудита)"),
    ("payments resolve", "payments", "Номера платежей (первая колонка `payments list`)"),
    ("payments serve", "listen", "Адрес для приёма, например 127.0.0.1:8080 (порт 0: любой свободный; занятый адрес печатается в stderr). Перед ним ставьте nginx с TLS"),
    ("payments serve", "workers", "Сколько запросов обрабатывается одновременно (у каждого своё подключение к базе)"),
    ("retention apply", "bookings_older_than", "Брони, созданные раньше этого срока, — под псевдоним (например 3y)"),
    ("retention apply", "dry_run", "Посчитать, что было бы затронуто; ничего не менять"),
    ("retention apply", "json", "Напечатать числа в JSON на stdout"),
    ("retention apply", "messages_older_than", "Стереть тексты сообщений старше этого срока, которые больше не будут отправлены (например 1y)"),
    ("stats daily", "days", "Сколько дней, по сегодняшний включительно (в часовом поясе показа)"),
    ("stats streams", "course", "Только этот курс"),
    ("stats streams", "since", "Брони, созданные не раньше (2024-12-01, RFC 3339, today, 7d...)"),
    ("stats streams", "stream", "Только этот код потока (\"\" — брони без потока)"),
    ("stats streams", "until", "Брони, созданные раньше"),
    ("streams add", "code", "Код потока, как его используют брони, например 9th_stream"),
    ("streams broadcast", "course", "Курс потока (нужен, когда у двух курсов одинаковый код потока)"),
    ("streams broadcast", "dry_run", "Показать, кто получил бы сообщение; ничего не ставить в очередь"),
    ("streams broadcast", "json", "Напечатать результат в JSON на stdout"),
    ("streams broadcast", "key", "Название этой рассылки: участник, который её уже получил, пропускается"),
    ("streams broadcast", "max", "Ничего не ставить в очередь и выйти с кодом 10, назвав число, если сообщений больше N"),
    ("streams broadcast", "status", "Участники в этом статусе"),
    ("streams broadcast", "stream", "Код потока"),
    ("streams broadcast", "text_file", "Сообщение (шаблон: {first_name} {course} {stream} {booking_id} {amount_due} {chat_link})"),
    ("streams edit", "chat_link", "Ссылка на групповой чат потока для подстановки {chat_link} (https:// или tg://); `none` убирает её"),
    ("streams edit", "code", "Код потока"),
    ("streams edit", "course", "Номер курса (нужен, когда у двух курсов одинаковый код потока)"),
    ("streams edit", "force", "Задать число мест меньше числа подтверждённых студентов (новые брони тогда отвергаются)"),
    ("streams list", "course", "Только этот курс"),
    ("streams members", "course", "Курс потока (нужен, когда у двух курсов одинаковый код потока)"),
    ("streams members", "stream", "Код потока"),
    ("undo", "dry_run", "Показать, что было бы отменено; ничего не записывать"),
    ("undo", "operation", "Id операции или его однозначное начало (не меньше 4 шестнадцатеричных цифр)"),
    ("uninstall", "yes", "Действительно удалить (таблицы и строки бота не затрагиваются)"),
    ("users block", "user", "Id пользователя Telegram или @username (из брони); неизвестный человек — отказ"),
    ("users erase", "dry_run", "Посчитать, что было бы стёрто; ничего не менять"),
    ("users erase", "json", "Напечатать числа в JSON на stdout"),
    ("users erase", "reason", "Причина (например, дата и канал просьбы); сохраняется в журнале аудита"),
    ("users erase", "user_id", "Id пользователя Telegram"),
    ("users erase", "vacuum", "Потом ещё выполнить VACUUM файла базы (переписывает его целиком; долго на больших файлах)"),
    ("users show", "history", "Сколько записей журнала показать"),
    ("users unblock", "user", "Id пользователя Telegram или @username (из брони); неизвестный человек — отказ"),
];

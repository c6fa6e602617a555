//! Help in the user's language: the Russian text is put on the built clap
//! tree before parsing.

use crate::cli::Cli;
use crate::output::Lang;

/// The command line with its help in `lang`.
///
/// clap's help text is static (from the `///` comments and `after_help`), so
/// the Russian descriptions and examples are swapped in here, once, before
/// parsing. A command missing from `RUSSIAN_HELP` keeps its English help,
/// with the headings translated.
pub fn command(lang: Lang) -> clap::Command {
    use clap::CommandFactory;
    let cmd = match lang {
        Lang::En => Cli::command(),
        // Translation walks every subcommand, so they are built first.
        Lang::Ru => {
            let mut cmd = Cli::command();
            cmd.build();
            translate(cmd, &[])
        }
    };
    // The exit codes come from the error module's table, in the run's language.
    let rest = cmd
        .get_after_help()
        .map(ToString::to_string)
        .unwrap_or_default();
    let codes = crate::error::exit_code_help(lang == Lang::Ru);
    cmd.after_help(format!("{codes}\n\n{rest}"))
}

fn translate(mut cmd: clap::Command, path: &[&str]) -> clap::Command {
    let name = cmd.get_name().to_string();
    let path: Vec<&str> = path.iter().copied().chain([name.as_str()]).collect();
    let key = path[1..].join(" ");
    if let Some((_, about, after_help)) = RUSSIAN_HELP.iter().find(|(k, _, _)| *k == key) {
        cmd = cmd.about(*about).long_about(None).after_help(*after_help);
    } else if let Some(english) = cmd.get_after_help().map(std::string::ToString::to_string) {
        cmd = cmd.after_help(
            english
                .replace("Examples:", "Примеры:")
                .replace("Example:", "Пример:"),
        );
    }
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    for sub in names {
        cmd = cmd.mut_subcommand(&sub, |s| translate(s, &path));
    }
    cmd
}

/// Russian help: (command path, description, examples). The command lines in
/// the examples are the same as in English; only the words around them change.
const RUSSIAN_HELP: &[(&str, &str, &str)] = &[
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
--json - читает по одному JSON-объекту на строку из stdin и добавляет все в одной транзакции\n\
(плохая строка называется по номеру, не добавляется ничего); поля: user_id, username,\n\
first_name, course, stream, referral, discount, status, created_at, key.\n\n\
Примеры:\n  paytrack bookings add --user-id 123 --username @olga --first-name Ольга --course 1 --stream 8th_stream\n  paytrack bookings add --user-id 123 --course 1 --stream 8th_stream --key tg-update-8812 --json\n  bot-export | paytrack bookings add --json -",
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
        "Каждая команда записи заканчивается строкой `operation OP; undo with paytrack undo OP` в stderr.\n\
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
не расходуя попыток. Ctrl-C даёт отправляемому сообщению завершиться и записаться.

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

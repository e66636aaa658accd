<?php

declare(strict_types=1);

// The client from the command line: `php bin/revocation.php issue 42 [device]` prints the
// issued token as JSON; `php bin/revocation.php lgt-all 42` logs user 42 out everywhere.
// Settings: REVOCATION_URL, REVOCATION_APP_ID, REVOCATION_APP_KEY.

require __DIR__ . '/../src/autoload.php';

use Revocation\RevocationClient;

$client = new RevocationClient(
    getenv('REVOCATION_URL') ?: 'http://127.0.0.1:8000',
    getenv('REVOCATION_APP_ID') ?: '',
    getenv('REVOCATION_APP_KEY') ?: '',
);
$arguments = array_values(array_diff($argv, ['--int']));
[, $command, $userId, $device] = $arguments + [null, null, null, null];
// A user id as a PHP form sends it, a string of digits ("0042"); an int with --int.
$userId = in_array('--int', $argv, true) ? (int) $userId : (string) $userId;
try {
    match ($command) {
        'issue' => print(json_encode($client->issueToken($userId, $device)) . "\n"),
        'lgt-all' => $client->logoutEverywhere($userId),
    };
} catch (RuntimeException $error) {
    fwrite(STDERR, $error->getMessage() . "\n");
    exit(1);
}

<?php

declare(strict_types=1);

namespace Revocation;

/** The few HTTP calls the client and the guard make, on PHP's curl extension. */
final class Http
{
    /** [status (0 when no HTTP answer came), decoded JSON body or [], Retry-After or null] */
    public static function postJson(string $url, array $body): array
    {
        return self::send($url, [
            CURLOPT_POST => true,
            CURLOPT_POSTFIELDS => json_encode($body, JSON_THROW_ON_ERROR),
            CURLOPT_HTTPHEADER => ['Content-Type: application/json', 'Accept: application/json'],
        ]);
    }

    public static function postForm(string $url, array $fields, string $user, string $password): array
    {
        return self::send($url, [
            CURLOPT_POST => true,
            CURLOPT_POSTFIELDS => http_build_query($fields),
            // RFC 6749 2.3.1: each part form-urlencoded, then HTTP Basic.
            CURLOPT_USERPWD => urlencode($user) . ':' . urlencode($password),
        ]);
    }

    /** The headers of the answer too: [status, body, Retry-After, lower-cased headers]. */
    public static function get(string $url, array $headers): array
    {
        return self::send($url, [CURLOPT_HTTPHEADER => $headers]);
    }

    private static function send(string $url, array $options): array
    {
        $headers = [];
        $curl = curl_init($url);
        curl_setopt_array($curl, $options + [
            CURLOPT_RETURNTRANSFER => true,
            CURLOPT_CONNECTTIMEOUT_MS => 1000,
            CURLOPT_TIMEOUT_MS => 3000,
            CURLOPT_HEADERFUNCTION => function ($curl, string $line) use (&$headers): int {
                [$name, $value] = array_pad(explode(':', $line, 2), 2, null);
                if ($value !== null) {
                    $headers[strtolower(trim($name))] = trim($value);
                }
                return strlen($line);
            },
        ]);
        $raw = curl_exec($curl);
        $status = $raw === false ? 0 : curl_getinfo($curl, CURLINFO_RESPONSE_CODE);
        curl_close($curl);
        $decoded = is_string($raw) ? json_decode($raw, true) : null;
        return [$status, is_array($decoded) ? $decoded : [], $headers['retry-after'] ?? null, $headers];
    }
}

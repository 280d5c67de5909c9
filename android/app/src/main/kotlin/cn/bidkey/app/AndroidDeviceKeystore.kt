package cn.bidkey.app

import android.content.Context
import android.content.pm.PackageManager
import android.os.Build
import android.security.keystore.KeyGenParameterSpec
import android.security.keystore.KeyProperties
import android.security.keystore.StrongBoxUnavailableException
import cn.bidkey.core.BidkeyException
import cn.bidkey.core.DeviceKeystore
import java.security.GeneralSecurityException
import java.security.KeyStore
import javax.crypto.AEADBadTagException
import javax.crypto.Cipher
import javax.crypto.KeyGenerator
import javax.crypto.SecretKey
import javax.crypto.spec.GCMParameterSpec

/**
 * The core's DeviceKeystore on Android Keystore: one AES-256-GCM key per alias, generated inside
 * the keystore (non-exportable), in StrongBox when the phone has one. Sealed data is
 * `iv (12 bytes) || ciphertext+tag` with the alias as associated data, so a blob cannot be
 * opened under another alias. Any keystore failure becomes `BidkeyException.Keystore`.
 * `sealWithUser`/`openWithUser` use a second key that the person's fingerprint or face unlocks
 * for each use (biometric confirmation, when turned on in Settings).
 */
class AndroidDeviceKeystore(context: Context, private val biometrics: BiometricGate) : DeviceKeystore {
    private val hasStrongBox = context.packageManager.hasSystemFeature(PackageManager.FEATURE_STRONGBOX_KEYSTORE)

    // Lazy: a keystore that cannot load fails the first call (an error screen), not the
    // Application's constructor.
    private val keyStore by lazy { KeyStore.getInstance(PROVIDER).apply { load(null) } }

    /**
     * Biometric confirmation: the user key (`bidkey.user.<alias>`) is bound to strong biometrics
     * for every use (timeout 0) and invalidated when a new fingerprint/face is enrolled. The
     * cipher is initialised here and only usable once BiometricPrompt unlocked it as its
     * CryptoObject; AES keys bound this way need the person for sealing too.
     */
    override suspend fun sealWithUser(alias: String, plaintext: ByteArray): ByteArray {
        val cipher = guarded {
            Cipher.getInstance(TRANSFORMATION).apply { init(Cipher.ENCRYPT_MODE, userKey(alias)) }
        }
        val unlocked = biometrics.unlock(cipher)
        return guarded {
            unlocked.updateAAD(alias.toByteArray())
            val iv = unlocked.iv
            check(iv.size == IV_BYTES) { "unexpected IV length ${iv.size}" }
            iv + unlocked.doFinal(plaintext)
        }
    }

    override suspend fun openWithUser(alias: String, sealed: ByteArray): ByteArray {
        if (sealed.size < IV_BYTES + TAG_BITS / 8) throw BidkeyException.Keystore("sealed data too short")
        val cipher = guarded {
            val key = keyStore.getKey(userAlias(alias), null) as? SecretKey
                ?: throw BidkeyException.Keystore("no biometric key for $alias (turned off, or a new fingerprint was enrolled)")
            Cipher.getInstance(TRANSFORMATION).apply { init(Cipher.DECRYPT_MODE, key, GCMParameterSpec(TAG_BITS, sealed, 0, IV_BYTES)) }
        }
        val unlocked = biometrics.unlock(cipher)
        return guarded {
            unlocked.updateAAD(alias.toByteArray())
            try {
                unlocked.doFinal(sealed, IV_BYTES, sealed.size - IV_BYTES)
            } catch (e: AEADBadTagException) {
                throw BidkeyException.Keystore("sealed data does not open with the biometric key")
            }
        }
    }

    @Synchronized
    private fun userKey(alias: String): SecretKey {
        (keyStore.getKey(userAlias(alias), null) as? SecretKey)?.let { return it }
        val builder = KeyGenParameterSpec.Builder(userAlias(alias), KeyProperties.PURPOSE_ENCRYPT or KeyProperties.PURPOSE_DECRYPT)
            .setBlockModes(KeyProperties.BLOCK_MODE_GCM)
            .setEncryptionPaddings(KeyProperties.ENCRYPTION_PADDING_NONE)
            .setKeySize(256)
            .setRandomizedEncryptionRequired(true)
            .setUserAuthenticationRequired(true)
            .setInvalidatedByBiometricEnrollment(true)
        if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.R) {
            builder.setUserAuthenticationParameters(0, KeyProperties.AUTH_BIOMETRIC_STRONG)
        } else {
            @Suppress("DEPRECATION")
            builder.setUserAuthenticationValidityDurationSeconds(-1)
        }
        return KeyGenerator.getInstance(KeyProperties.KEY_ALGORITHM_AES, PROVIDER).run {
            init(builder.build())
            generateKey()
        }
    }

    private fun userAlias(alias: String) = "bidkey.user.$alias"

    override fun seal(alias: String, plaintext: ByteArray): ByteArray = guarded {
        val cipher = Cipher.getInstance(TRANSFORMATION)
        // The keystore picks the IV (randomized encryption is required for these keys).
        cipher.init(Cipher.ENCRYPT_MODE, key(alias))
        cipher.updateAAD(alias.toByteArray())
        val iv = cipher.iv
        check(iv.size == IV_BYTES) { "unexpected IV length ${iv.size}" }
        iv + cipher.doFinal(plaintext)
    }

    override fun open(alias: String, sealed: ByteArray): ByteArray = guarded {
        if (sealed.size < IV_BYTES + TAG_BITS / 8) throw BidkeyException.Keystore("sealed data too short")
        val existing = keyStore.getKey(keyAlias(alias), null) as? SecretKey
            ?: throw BidkeyException.Keystore("no device key for $alias (app data restored to another phone?)")
        val cipher = Cipher.getInstance(TRANSFORMATION)
        cipher.init(Cipher.DECRYPT_MODE, existing, GCMParameterSpec(TAG_BITS, sealed, 0, IV_BYTES))
        cipher.updateAAD(alias.toByteArray())
        try {
            cipher.doFinal(sealed, IV_BYTES, sealed.size - IV_BYTES)
        } catch (e: AEADBadTagException) {
            throw BidkeyException.Keystore("sealed data does not open with this device key")
        }
    }

    @Synchronized
    private fun key(alias: String): SecretKey {
        (keyStore.getKey(keyAlias(alias), null) as? SecretKey)?.let { return it }
        return if (hasStrongBox) {
            try {
                generate(alias, strongBox = true)
            } catch (e: StrongBoxUnavailableException) {
                generate(alias, strongBox = false)
            }
        } else {
            generate(alias, strongBox = false)
        }
    }

    private fun generate(alias: String, strongBox: Boolean): SecretKey {
        val spec = KeyGenParameterSpec.Builder(keyAlias(alias), KeyProperties.PURPOSE_ENCRYPT or KeyProperties.PURPOSE_DECRYPT)
            .setBlockModes(KeyProperties.BLOCK_MODE_GCM)
            .setEncryptionPaddings(KeyProperties.ENCRYPTION_PADDING_NONE)
            .setKeySize(256)
            .setRandomizedEncryptionRequired(true)
            .setIsStrongBoxBacked(strongBox)
            .build()
        return KeyGenerator.getInstance(KeyProperties.KEY_ALGORITHM_AES, PROVIDER).run {
            init(spec)
            generateKey()
        }
    }

    private inline fun <T> guarded(block: () -> T): T = try {
        block()
    } catch (e: BidkeyException) {
        throw e
    } catch (e: GeneralSecurityException) {
        throw BidkeyException.Keystore(e.javaClass.simpleName + ": " + (e.message ?: ""))
    } catch (e: IllegalStateException) {
        throw BidkeyException.Keystore(e.message ?: "keystore state")
    }

    private fun keyAlias(alias: String) = "bidkey.$alias"

    private companion object {
        const val PROVIDER = "AndroidKeyStore"
        const val TRANSFORMATION = "AES/GCM/NoPadding"
        const val IV_BYTES = 12
        const val TAG_BITS = 128
    }
}

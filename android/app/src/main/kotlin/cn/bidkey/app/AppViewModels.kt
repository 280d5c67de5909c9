package cn.bidkey.app

import androidx.lifecycle.ViewModel
import androidx.lifecycle.viewModelScope
import cn.bidkey.shared.AdminViewModel
import cn.bidkey.shared.CertificatesViewModel
import cn.bidkey.shared.EnterpriseViewModel
import cn.bidkey.shared.LoginViewModel
import cn.bidkey.shared.RealNameViewModel
import cn.bidkey.shared.SettingsViewModel
import cn.bidkey.shared.scan.ScanViewModel
import android.os.Build
import cn.bidkey.core.Bidkey
import cn.bidkey.core.Lang
import kotlinx.coroutines.flow.MutableStateFlow

/**
 * The androidx side of the view models: one ViewModel per navigation graph owning the shared
 * (plain Kotlin) view models on `viewModelScope`, so they survive rotation. No logic here.
 */
class AppViewModels(private val bidkey: Bidkey, private val lang: MutableStateFlow<Lang>) : ViewModel() {
    val settings = SettingsViewModel(bidkey, viewModelScope, lang)
    val login = LoginViewModel(bidkey, viewModelScope, lang, "${Build.MANUFACTURER} ${Build.MODEL}") {
        settings.accountChanged(it)
    }
    val realName = RealNameViewModel(bidkey, viewModelScope, lang) { settings.accountChanged(it) }
    val enterprise = EnterpriseViewModel(bidkey, viewModelScope, lang)
    val certificates = CertificatesViewModel(bidkey, viewModelScope, lang)
    val scan = ScanViewModel(bidkey, viewModelScope, lang)
    private val admins = mutableMapOf<String, AdminViewModel>()

    fun admin(enterpriseId: String): AdminViewModel =
        admins.getOrPut(enterpriseId) { AdminViewModel(bidkey, viewModelScope, lang, enterpriseId) }
}
